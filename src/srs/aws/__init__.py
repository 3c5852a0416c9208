"""The AWS path: what SRS costs there, and the S3, IAM and Personalize resources it runs on.

One job per module: ``cost`` (a package) reproduces the seed's estimate, corrects it and prices
campaign, batch and one VM from the dated ``cost/prices.toml``;
``bucket`` and ``role`` create and remove the S3 bucket and the IAM role Personalize reads
through, ``bootstrap`` runs both; ``personalize_setup`` and ``personalize_cleanup`` build and
remove the Personalize resources; ``polling`` holds the waits and retries they share; ``state``
records every name and ARN so that a second run resumes instead of duplicating; ``deploy`` is
what ``srs aws setup|cleanup`` call; ``personalize_service`` and ``batch`` serve
recommendations from a campaign or from a batch inference job.
"""
