"""AWS error messages reach the operator as one line of text, whatever body carried them."""

from __future__ import annotations

from botocore.exceptions import ClientError, NoCredentialsError

from srs.aws.errors import MissingCredentialsError, aws_error, message_text


def client_error(code: str, message: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "ListDatasetGroups")


def test_an_html_error_page_becomes_its_text() -> None:
    """Defect 4: what botocore makes of a proxy's or load balancer's HTML page."""
    page = (
        "<!doctype html>\n<html lang=en>\n<title>500 Internal Server Error</title>\n"
        "<h1>Internal Server Error</h1>\n<p>The server encountered an internal error &amp; "
        "was unable to complete your request.</p>\n"
    )
    error = aws_error(client_error("500", page), "Personalize list_dataset_groups")
    assert str(error) == (
        "Personalize list_dataset_groups failed: 500: Internal Server Error The server "
        "encountered an internal error & was unable to complete your request."
    )


def test_plain_messages_are_kept_and_long_ones_bounded() -> None:
    assert message_text("Rate exceeded") == "Rate exceeded"
    assert message_text("a < b and c > d") == "a < b and c > d"
    long = message_text("<p>" + "x " * 400 + "</p>")
    assert len(long) == 300 and long.endswith("…")


def test_missing_credentials_say_how_to_provide_them() -> None:
    error = aws_error(NoCredentialsError(), "finding the AWS account")
    assert isinstance(error, MissingCredentialsError)
    assert "no AWS credentials found" in str(error) and "--profile" in str(error)
