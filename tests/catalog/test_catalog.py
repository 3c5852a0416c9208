"""The shipped AWS service catalogue and the rules every catalogue file must meet."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd
import pytest

from srs.catalog import (
    ALIASES_COLUMN,
    CATALOG_COLUMNS,
    CatalogError,
    ServiceAliases,
    alias_key,
    load_catalog,
    parse_catalog,
)
from srs.errors import SRSError


@pytest.fixture(scope="module")
def catalog() -> pd.DataFrame:
    return load_catalog()


def test_shipped_catalogue_is_large_with_exact_columns(catalog: pd.DataFrame) -> None:
    assert list(catalog.columns) == [*CATALOG_COLUMNS, ALIASES_COLUMN]
    assert len(catalog) >= 150


def test_shipped_catalogue_names_are_unique_and_fields_filled(catalog: pd.DataFrame) -> None:
    assert catalog["name"].is_unique
    for column in CATALOG_COLUMNS:
        values = catalog[column]
        assert values.map(type).eq(str).all()
        assert values.str.strip().ne("").all(), column
        assert values.eq(values.str.strip()).all(), column


@pytest.mark.parametrize(
    ("name", "category"),
    [
        ("Amazon S3", "Storage"),
        ("AWS Lambda", "Compute"),
        ("Amazon EC2", "Compute"),
        ("Amazon EBS", "Storage"),
        ("Amazon VPC", "Networking & Content Delivery"),
        ("Amazon CloudFront", "Networking & Content Delivery"),
        ("Amazon Route 53", "Networking & Content Delivery"),
        ("Amazon SageMaker", "Machine Learning"),
        ("Amazon Bedrock", "Machine Learning"),
        ("Amazon Personalize", "Machine Learning"),
        ("AWS Glue", "Analytics"),
        ("Amazon Athena", "Analytics"),
        ("Amazon Redshift", "Analytics"),
        ("Amazon Kinesis Data Streams", "Analytics"),
        ("AWS IAM", "Security Identity & Compliance"),
        ("AWS KMS", "Security Identity & Compliance"),
        ("Amazon GuardDuty", "Security Identity & Compliance"),
        ("AWS CloudFormation", "Management & Governance"),
        ("AWS CodePipeline", "Developer Tools"),
        ("Amazon ECS", "Containers"),
        ("Amazon EKS", "Containers"),
        ("Amazon DynamoDB", "Database"),
        ("Amazon RDS", "Database"),
        ("Amazon Aurora", "Database"),
        ("Amazon SQS", "Application Integration"),
        ("AWS IoT Core", "IoT"),
        ("AWS Elemental MediaConvert", "Media Services"),
        ("Amazon WorkSpaces", "End User Computing"),
        ("AWS Database Migration Service", "Migration & Transfer"),
        ("Amazon Connect", "Business Applications"),
        ("AWS Amplify", "Front-End Web & Mobile"),
        ("AWS Cost Explorer", "Cost Management"),
    ],
)
def test_known_services_have_their_category(
    catalog: pd.DataFrame, name: str, category: str
) -> None:
    row = catalog.loc[catalog["name"] == name]
    assert len(row) == 1, name
    assert row["category"].iloc[0] == category


def test_shipped_catalogue_spans_many_categories(catalog: pd.DataFrame) -> None:
    counts = catalog["category"].value_counts()
    assert len(counts) >= 18
    assert counts.max() <= 0.15 * len(catalog)


def test_descriptions_with_commas_survive_a_plain_csv_reader(catalog: pd.DataFrame) -> None:
    with_commas = catalog["description"].str.contains(",")
    assert with_commas.sum() > 20
    raw = resources.files("srs.catalog").joinpath("services.csv")
    with resources.as_file(raw) as path:
        reread = pd.read_csv(path, dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(reread, catalog)


def test_load_catalog_reads_a_file_given_by_path(tmp_path: Path) -> None:
    path = tmp_path / "services.csv"
    path.write_text(
        'name,category,description\nAmazon S3,Storage,"Objects, at any scale."\n'
        "AWS Lambda,Compute,Functions.\n",
        encoding="utf-8",
    )
    frame = load_catalog(path)
    assert frame["name"].tolist() == ["Amazon S3", "AWS Lambda"]
    assert frame["description"].iloc[0] == "Objects, at any scale."


def test_extra_columns_and_column_order_are_tolerated() -> None:
    frame = parse_catalog("description,extra,name,category\nObjects.,x,Amazon S3,Storage\n")
    assert frame.to_dict("records") == [
        {"name": "Amazon S3", "category": "Storage", "description": "Objects.", "aliases": ""}
    ]


def test_duplicate_name_names_both_lines() -> None:
    text = "name,category,description\nA,Compute,One.\nB,Storage,Two.\nA,Storage,Three.\n"
    with pytest.raises(
        CatalogError, match=r"my\.csv, line 4: field 'name' value 'A' duplicates line 2"
    ):
        parse_catalog(text, "my.csv")


def test_line_numbers_count_multi_line_quoted_descriptions() -> None:
    text = 'name,category,description\nA,Compute,"Line one\nline two."\nB,,Two.\n'
    with pytest.raises(CatalogError, match=r"line 4: field 'category' is blank"):
        parse_catalog(text, "my.csv")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", r"catalogue is empty"),
        ("name,category,description\n", r"header but no services"),
        ("name,description\nA,One.\n", r"line 1: missing column\(s\) category"),
        ("name,category,description\nA,Compute\n", r"line 2: expected 3 fields, found 2"),
        ("name,category,description\n  ,Compute,One.\n", r"line 2: field 'name' is blank"),
    ],
)
def test_malformed_catalogues_raise_one_clear_error(text: str, message: str) -> None:
    with pytest.raises(CatalogError, match=message) as caught:
        parse_catalog(text, "bad.csv")
    assert str(caught.value).startswith("bad.csv")
    assert isinstance(caught.value, SRSError)


def test_missing_catalogue_file_is_a_catalog_error(tmp_path: Path) -> None:
    missing = tmp_path / "absent.csv"
    with pytest.raises(CatalogError, match=r"absent\.csv: cannot read catalogue"):
        load_catalog(missing)


@pytest.fixture(scope="module")
def aliases(catalog: pd.DataFrame) -> ServiceAliases:
    return ServiceAliases.from_catalog(catalog)


@pytest.mark.parametrize(
    ("written", "name"),
    [
        ("EC2", "Amazon EC2"),
        ("ec2", "Amazon EC2"),
        ("Amazon Elastic Compute Cloud", "Amazon EC2"),
        ("amazon s3", "Amazon S3"),
        ("Amazon Simple Storage Service", "Amazon S3"),
        ("  Simple   Storage Service ", "Amazon S3"),
        ("AWS S3", "Amazon S3"),
        ("Amazon Lambda", "AWS Lambda"),
        ("lambda", "AWS Lambda"),
        ("RDS", "Amazon RDS"),
        ("DynamoDB", "Amazon DynamoDB"),
        ("SQS", "Amazon SQS"),
        ("Simple Notification Service", "Amazon SNS"),
        ("IAM", "AWS IAM"),
        ("VPC", "Amazon VPC"),
        ("Elastic Block Store", "Amazon EBS"),
        ("EFS", "Amazon EFS"),
        ("Elastic Container Service", "Amazon ECS"),
        ("EKS", "Amazon EKS"),
        ("ECR", "Amazon ECR"),
        ("CloudFront", "Amazon CloudFront"),
        ("Route53", "Amazon Route 53"),
        ("Key Management Service", "AWS KMS"),
        ("CloudWatch", "Amazon CloudWatch"),
        ("CloudTrail", "AWS CloudTrail"),
        ("SageMaker", "Amazon SageMaker"),
        ("Kinesis", "Amazon Kinesis Data Streams"),
        ("Redshift", "Amazon Redshift"),
        ("ElastiCache", "Amazon ElastiCache"),
        ("Athena", "Amazon Athena"),
        ("Glue", "AWS Glue"),
        ("Elastic MapReduce", "Amazon EMR"),
        ("Step Functions", "AWS Step Functions"),
        ("API Gateway", "Amazon API Gateway"),
        ("Cognito", "Amazon Cognito"),
        ("Secrets Manager", "AWS Secrets Manager"),
        ("SSM", "AWS Systems Manager"),
        ("Systems Manager", "AWS Systems Manager"),
        ("Fargate", "AWS Fargate"),
        ("EC2 Auto Scaling", "Amazon EC2 Auto Scaling"),
    ],
)
def test_shipped_aliases_resolve_to_the_catalogue_name(
    aliases: ServiceAliases, written: str, name: str
) -> None:
    assert aliases.resolve(written) == name


@pytest.mark.parametrize("written", ["Amazon S4", "S4", "Amazon", "AWS", "", "Teleport"])
def test_spellings_of_no_service_resolve_to_none(aliases: ServiceAliases, written: str) -> None:
    assert aliases.resolve(written) is None


def test_suggestions_are_the_closest_catalogue_names(aliases: ServiceAliases) -> None:
    suggested = aliases.suggest("Amazon S4")
    assert len(suggested) == 3
    assert suggested[0] == "Amazon S3"
    assert aliases.suggest("Dynamo DBB", limit=1) == ["Amazon DynamoDB"]
    assert aliases.suggest("zzzzzzzz") == []


def test_alias_keys_fold_case_and_spacing() -> None:
    assert alias_key("  Amazon \t Simple  Storage Service ") == "amazon simple storage service"


def test_every_shipped_service_resolves_by_its_name_and_without_its_vendor(
    catalog: pd.DataFrame, aliases: ServiceAliases
) -> None:
    for name in catalog["name"]:
        assert aliases.resolve(name.upper()) == name
        for prefix in ("Amazon ", "AWS "):
            if name.startswith(prefix):
                assert aliases.resolve(name.removeprefix(prefix)) == name


def test_a_vendorless_name_two_services_share_is_dropped_not_guessed() -> None:
    frame = parse_catalog(
        "name,category,description\n"
        "Amazon Widget,Compute,One.\n"
        "AWS Widget,Storage,Two.\n"
        "AWS Gadget,Storage,Three.\n"
    )
    resolver = ServiceAliases.from_catalog(frame)
    assert resolver.resolve("Widget") is None
    assert resolver.resolve("aws widget") == "AWS Widget"
    assert resolver.resolve("Gadget") == "AWS Gadget"


def test_an_explicit_alias_outranks_a_derived_one() -> None:
    frame = parse_catalog(
        "name,category,description,aliases\n"
        "AWS Lambda,Compute,Functions.,\n"
        "AWS Lambda@Edge,Compute,Edge functions.,Lambda\n"
    )
    assert ServiceAliases.from_catalog(frame).resolve("lambda") == "AWS Lambda@Edge"


def test_aliases_column_is_parsed_and_optional() -> None:
    frame = parse_catalog(
        "name,category,description,aliases\n"
        "Amazon S3,Storage,Objects.,S3; Simple Storage Service;\n"
        "AWS Lambda,Compute,Functions.,\n"
    )
    assert frame[ALIASES_COLUMN].tolist() == ["S3; Simple Storage Service;", ""]
    resolver = ServiceAliases.from_catalog(frame)
    assert resolver.resolve("simple storage service") == "Amazon S3"
    assert ServiceAliases.from_catalog(frame[list(CATALOG_COLUMNS)]).resolve("s3") == "Amazon S3"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "name,category,description,aliases\nA,Compute,One.,X\nB,Storage,Two.,y; X \n",
            r"^bad\.csv, line 3: field 'aliases' value 'X' already stands for 'A' \(line 2\)$",
        ),
        (
            "name,category,description,aliases\nA,Compute,One.,\nB,Storage,Two.,a\n",
            r"^bad\.csv, line 3: field 'aliases' value 'a' already stands for 'A' \(line 2\)$",
        ),
        (
            "name,category,description\nAmazon S3,Storage,One.\namazon  s3,Storage,Two.\n",
            r"^bad\.csv, line 3: field 'name' value 'amazon  s3' is the same name as "
            r"'Amazon S3' \(line 2\) but for case or spacing$",
        ),
    ],
)
def test_an_alias_two_services_claim_is_a_catalogue_error(text: str, message: str) -> None:
    with pytest.raises(CatalogError, match=message):
        parse_catalog(text, "bad.csv")


def test_a_frame_with_clashing_aliases_names_its_rows() -> None:
    frame = pd.DataFrame(
        {
            "name": ["A", "B"],
            "category": ["x", "y"],
            "description": ["", ""],
            "aliases": ["Q", "q"],
        }
    )
    with pytest.raises(CatalogError, match=r"^catalogue, row 2: field 'aliases' value 'q'"):
        ServiceAliases.from_catalog(frame)


def test_names_added_for_a_team_do_not_displace_catalogue_spellings(
    aliases: ServiceAliases,
) -> None:
    extended = aliases.with_names(["Acme Queue", "s3"])
    assert extended.resolve("acme  QUEUE") == "Acme Queue"
    assert extended.resolve("S3") == "Amazon S3"
    assert aliases.resolve("Acme Queue") is None
