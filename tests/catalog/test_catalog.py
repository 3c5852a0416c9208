"""The shipped AWS service catalogue and the rules every catalogue file must meet."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd
import pytest

from srs.catalog import CATALOG_COLUMNS, CatalogError, load_catalog, parse_catalog
from srs.errors import SRSError


@pytest.fixture(scope="module")
def catalog() -> pd.DataFrame:
    return load_catalog()


def test_shipped_catalogue_is_large_with_exact_columns(catalog: pd.DataFrame) -> None:
    assert list(catalog.columns) == list(CATALOG_COLUMNS)
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
        {"name": "Amazon S3", "category": "Storage", "description": "Objects."}
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
