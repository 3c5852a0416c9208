"""The AWS path: what SRS costs there, and the S3, IAM and Personalize resources it runs on.

One job per module: ``cost`` (a package) reproduces the seed's estimate, corrects it and prices
campaign, batch and one VM from the dated ``cost/prices.toml``;
``naming`` derives every resource's name and tag from the deployment's name and region;
``clients`` builds the boto3 clients (one retry layer: botocore's) and knows where Personalize
runs; ``errors`` turns AWS failures into one line of text;
``bucket`` and ``role`` create and remove the S3 bucket and the IAM role Personalize reads
through, ``bootstrap`` runs both; ``personalize_setup`` and ``personalize_cleanup`` build and
remove the Personalize resources; ``cleanup_outcome`` is the row clean-up reports per
resource; ``polling`` holds the waits they share; ``state`` records every name and ARN so that
a second run resumes instead of duplicating, and the region every later command uses;
``deploy`` is what ``srs aws setup|cleanup`` call; ``personalize_service`` and ``batch`` serve
recommendations from a campaign or from a batch inference job.
"""
