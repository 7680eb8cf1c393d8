# Counts as CLDR writes them for Simplified Chinese (12,345); Django's own format has no
# separator at all, grouped by four, which leaves large vote counts hard to read.
THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3
