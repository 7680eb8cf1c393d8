# Counts as Spanish-speaking fans read them on screens (CLDR, ICU, phones): 12.345.
# Django's own Spanish format groups with a non-breaking space, which the RAE prefers
# in print but fans in Mexico and Spain rarely see in apps.
THOUSAND_SEPARATOR = "."
