"""The staff side of polls: lifecycle, options and design images, review, fraud
signals, agency reads, pages, API and URLs. The fan side never imports this package."""
