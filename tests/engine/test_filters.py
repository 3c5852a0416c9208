"""Personalize filter expressions: parsing, error reporting and vectorised evaluation."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from srs.data.interaction_rows import CodedText, InteractionRows
from srs.engine.filters.errors import FilterError, FilterSyntaxError, FilterValueError
from srs.engine.filters.evaluate import IndexedFrame, parse_filter
from srs.engine.filters.syntax import (
    DEFAULT_EXCLUDE_LAUNCHED,
    Action,
    AllOf,
    AnyOf,
    Comparison,
    ComparisonOperator,
    Dataset,
    Membership,
    Placeholder,
    StringValue,
)
from srs.engine.filters.values import parse_filter_value, parse_filter_values

FIELD_EXPECTED = "a field such as Items.CATEGORY or Interactions.EVENT_TYPE"
ITEM_IDS = ["s3", "ec2", "rds", "efs", "athena", "lambda"]


@pytest.fixture
def items() -> pd.DataFrame:
    # A non-default index proves the mask follows row order, not index labels.
    return pd.DataFrame(
        {
            "ITEM_ID": ITEM_IDS,
            "SERVICE_NAME": [
                "Amazon S3",
                "Amazon EC2",
                "Amazon RDS",
                "Amazon EFS",
                "Athena",
                "AWS Lambda",
            ],
            "CATEGORY": ["Storage", "Compute", "Database", "Storage", "Analytics", "Compute"],
            "DESCRIPTION": ["objects", "servers", "sql", "files", "queries", "functions"],
            "PRICE": [5.0, 12.0, 20.0, np.nan, 10.0, 1.0],
            "TIER": [1, 2, 3, 2, 1, 1],
            "FREE": [True, False, False, False, False, True],
        },
        index=[50, 40, 30, 20, 10, 0],
    )


@pytest.fixture
def interactions() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "USER_ID": ["u1"] * 6,
            "ITEM_ID": ["s3", "ec2", "rds", "rds", "efs", "athena"],
            "EVENT_TYPE": ["launched", "viewed", "rated", "viewed", "rated", "Launched"],
            "EVENT_VALUE": [np.nan, np.nan, 4.0, np.nan, 2.0, np.nan],
            "TIMESTAMP": [100, 110, 120, 130, 140, 150],
        }
    )


def allowed_ids(mask: np.ndarray) -> list[str]:
    assert mask.dtype == np.bool_
    assert mask.shape == (len(ITEM_IDS),)
    return [item for item, keep in zip(ITEM_IDS, mask, strict=True) if keep]


def evaluate(
    expression: str,
    items: pd.DataFrame,
    interactions: pd.DataFrame | None,
    values: dict[str, str] | None = None,
) -> list[str]:
    """Allowed ids, checking that a plain frame and a reused IndexedFrame agree, and that the
    user's rows given as history slices (codes into a shared vocabulary) agree with a frame."""
    parsed = parse_filter(expression)
    plain = allowed_ids(parsed.allowed(items, interactions, values))
    table = IndexedFrame(items)
    for _ in range(2):  # the second pass reads the encodings the first one kept
        assert allowed_ids(parsed.allowed(table, interactions, values)) == plain
    if interactions is not None and len(interactions) > 1:
        sliced = as_history_slices(interactions)
        assert allowed_ids(parsed.allowed(table, sliced, values)) == plain
    return plain


def as_history_slices(frame: pd.DataFrame) -> InteractionRows:
    """The frame's rows the way a request builds them: text columns as codes into vocabularies
    holding other values too (a whole history's), in two parts with different vocabularies
    (stored rows and recent events) joined again."""
    half = len(frame) // 2
    first = coded_rows(frame.iloc[:half], reverse=False)
    rest = coded_rows(frame.iloc[half:], reverse=True)
    return InteractionRows.concat([first, rest])


def coded_rows(frame: pd.DataFrame, reverse: bool) -> InteractionRows:
    columns: dict[str, CodedText | np.ndarray] = {}
    for name in frame.columns:
        if frame[name].dtype == object:
            vocabulary = ["unrelated", *frame[name].unique().tolist(), "other"]
            if reverse:
                vocabulary.reverse()
            codes = np.array([vocabulary.index(value) for value in frame[name]])
            columns[name] = CodedText(codes, vocabulary)
        else:
            columns[name] = frame[name].to_numpy()
    return InteractionRows(columns)


# --------------------------------------------------------------------------- interactions


def test_default_filter_excludes_launched_items_ignoring_event_type_case(
    items: pd.DataFrame, interactions: pd.DataFrame
) -> None:
    assert evaluate(DEFAULT_EXCLUDE_LAUNCHED, items, interactions) == [
        "ec2",
        "rds",
        "efs",
        "lambda",
    ]


def test_include_interactions_keeps_only_items_the_user_had_that_event_with(
    items: pd.DataFrame, interactions: pd.DataFrame
) -> None:
    expression = 'INCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("viewed")'
    assert evaluate(expression, items, interactions) == ["ec2", "rds"]


def test_asterisk_matches_every_event_type(items: pd.DataFrame, interactions: pd.DataFrame) -> None:
    expression = 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("*")'
    assert evaluate(expression, items, interactions) == ["lambda"]


def test_interactions_not_in_matches_items_with_another_event_type(
    items: pd.DataFrame, interactions: pd.DataFrame
) -> None:
    # rds has a "viewed" and a "rated" row: the "rated" row matches NOT IN ("viewed").
    expression = 'INCLUDE ItemID WHERE Interactions.EVENT_TYPE NOT IN ("viewed")'
    assert evaluate(expression, items, interactions) == ["s3", "rds", "efs", "athena"]


def test_interaction_conditions_hold_on_one_interaction_row(
    items: pd.DataFrame, interactions: pd.DataFrame
) -> None:
    # rds was viewed and (in another row) rated 4: no single row is a "viewed" above 3.
    viewed_high = (
        'INCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("viewed") '
        "AND Interactions.EVENT_VALUE > 3"
    )
    assert evaluate(viewed_high, items, interactions) == []
    rated_low = (
        'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("rated") AND Interactions.EVENT_VALUE < 3'
    )
    assert evaluate(rated_low, items, interactions) == ["s3", "ec2", "rds", "athena", "lambda"]


def test_user_without_history_matches_no_interaction_condition(items: pd.DataFrame) -> None:
    include = 'INCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("viewed")'
    assert evaluate(include, items, None) == []
    assert evaluate(DEFAULT_EXCLUDE_LAUNCHED, items, None) == ITEM_IDS
    empty = pd.DataFrame(columns=["USER_ID", "ITEM_ID", "EVENT_TYPE", "EVENT_VALUE", "TIMESTAMP"])
    assert evaluate(DEFAULT_EXCLUDE_LAUNCHED, items, empty) == ITEM_IDS


def test_interaction_timestamp_comparison_with_placeholder(
    items: pd.DataFrame, interactions: pd.DataFrame
) -> None:
    expression = "INCLUDE ItemID WHERE Interactions.TIMESTAMP >= $SINCE"
    assert evaluate(expression, items, interactions, {"SINCE": '"140"'}) == ["efs", "athena"]


# --------------------------------------------------------------------------- items


def test_items_in_and_not_in_literal_lists(items: pd.DataFrame) -> None:
    exclude = 'EXCLUDE ItemID WHERE Items.CATEGORY IN ("Storage", "Database")'
    assert evaluate(exclude, items, None) == ["ec2", "athena", "lambda"]
    include = 'INCLUDE ItemID WHERE Items.CATEGORY NOT IN ("Storage", "Database")'
    assert evaluate(include, items, None) == ["ec2", "athena", "lambda"]
    exclude_not = 'EXCLUDE ItemID WHERE Items.CATEGORY NOT IN ("Compute")'
    assert evaluate(exclude_not, items, None) == ["ec2", "lambda"]


def test_item_values_match_case_sensitively(items: pd.DataFrame) -> None:
    expression = 'INCLUDE ItemID WHERE Items.CATEGORY IN ("storage")'
    assert evaluate(expression, items, None) == []


@pytest.mark.parametrize(
    ("operator", "expected"),
    [
        ("=", ["athena"]),
        ("<", ["s3", "lambda"]),
        ("<=", ["s3", "athena", "lambda"]),
        (">", ["ec2", "rds"]),
        (">=", ["ec2", "rds", "athena"]),
    ],
)
def test_numeric_comparisons_skip_missing_values(
    items: pd.DataFrame, operator: str, expected: list[str]
) -> None:
    # efs has no PRICE, so no comparison selects it.
    assert evaluate(f"INCLUDE ItemID WHERE Items.PRICE {operator} 10", items, None) == expected


def test_negative_and_decimal_numbers(items: pd.DataFrame) -> None:
    assert evaluate("INCLUDE ItemID WHERE Items.PRICE > -1.5", items, None) == [
        "s3",
        "ec2",
        "rds",
        "athena",
        "lambda",
    ]
    assert evaluate("INCLUDE ItemID WHERE Items.PRICE <= 1.0e1", items, None) == [
        "s3",
        "athena",
        "lambda",
    ]


def test_in_on_numeric_column_compares_numbers(items: pd.DataFrame) -> None:
    assert evaluate('INCLUDE ItemID WHERE Items.TIER IN ("2", "3.0")', items, None) == [
        "ec2",
        "rds",
        "efs",
    ]


def test_and_binds_tighter_than_or(items: pd.DataFrame) -> None:
    expression = (
        'INCLUDE ItemID WHERE Items.CATEGORY IN ("Analytics") OR Items.CATEGORY IN ("Compute") '
        "AND Items.PRICE > 5"
    )
    assert evaluate(expression, items, None) == ["ec2", "athena"]
    parsed = parse_filter(expression).expressions[0].condition
    assert isinstance(parsed, AnyOf)
    assert isinstance(parsed.conditions[1], AllOf)


def test_and_or_mixed_within_items(items: pd.DataFrame) -> None:
    expression = (
        'EXCLUDE ItemID WHERE Items.CATEGORY IN ("Storage") AND Items.PRICE < 10 '
        'OR Items.SERVICE_NAME IN ("AWS Lambda")'
    )
    assert evaluate(expression, items, None) == ["ec2", "rds", "efs", "athena"]


def test_escaped_quote_in_string_literal() -> None:
    frame = pd.DataFrame({"ITEM_ID": ["a", "b"], "CATEGORY": ['say "hi"', "plain"]})
    expression = r'INCLUDE ItemID WHERE Items.CATEGORY IN ("say \"hi\"")'
    assert parse_filter(expression).allowed(frame, None).tolist() == [True, False]


# --------------------------------------------------------------------------- chains


def test_include_items_then_exclude_interactions(
    items: pd.DataFrame, interactions: pd.DataFrame
) -> None:
    expression = (
        'INCLUDE ItemID WHERE Items.CATEGORY IN ("Storage", "Compute") | '
        + DEFAULT_EXCLUDE_LAUNCHED
    )
    assert evaluate(expression, items, interactions) == ["ec2", "efs", "lambda"]


def test_chain_order_does_not_matter(items: pd.DataFrame, interactions: pd.DataFrame) -> None:
    include = 'INCLUDE ItemID WHERE Items.CATEGORY IN ("Storage", "Compute")'
    forward = evaluate(f"{include} | {DEFAULT_EXCLUDE_LAUNCHED}", items, interactions)
    backward = evaluate(f"{DEFAULT_EXCLUDE_LAUNCHED} | {include}", items, interactions)
    assert forward == backward == ["ec2", "efs", "lambda"]


def test_two_includes_keep_the_union(items: pd.DataFrame, interactions: pd.DataFrame) -> None:
    # Personalize: "Include A | Include B is equal to Include result from A or result from B".
    expression = (
        'INCLUDE ItemID WHERE Items.CATEGORY IN ("Analytics") | '
        'INCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("viewed")'
    )
    assert evaluate(expression, items, interactions) == ["ec2", "rds", "athena"]


def test_two_excludes_drop_the_union(items: pd.DataFrame, interactions: pd.DataFrame) -> None:
    expression = f"{DEFAULT_EXCLUDE_LAUNCHED} | EXCLUDE ItemID WHERE Items.PRICE > 15"
    assert evaluate(expression, items, interactions) == ["ec2", "efs", "lambda"]


def test_includes_minus_excludes(items: pd.DataFrame, interactions: pd.DataFrame) -> None:
    expression = (
        'INCLUDE ItemID WHERE Items.CATEGORY IN ("Storage") | '
        'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("rated") | '
        'INCLUDE ItemID WHERE Items.CATEGORY IN ("Database") | '
        "EXCLUDE ItemID WHERE Items.PRICE < 6"
    )
    # (Storage or Database) - (rated or PRICE < 6) = {s3, efs, rds} - {rds, efs, s3, lambda}
    assert evaluate(expression, items, interactions) == []
    softer = expression.replace("Items.PRICE < 6", "Items.PRICE < 2")
    assert evaluate(softer, items, interactions) == ["s3"]


# --------------------------------------------------------------------------- placeholders


def test_placeholder_binds_several_values(items: pd.DataFrame) -> None:
    parsed = parse_filter("INCLUDE ItemID WHERE Items.CATEGORY IN ($CATEGORY)")
    assert parsed.placeholders == ("CATEGORY",)
    assert parsed.required_placeholders == ("CATEGORY",)
    mask = parsed.allowed(items, None, {"CATEGORY": '"Storage","Compute"'})
    assert allowed_ids(mask) == ["s3", "ec2", "efs", "lambda"]
    # Parse once, evaluate many times with other values.
    mask = parsed.allowed(items, None, {"CATEGORY": '"Analytics"'})
    assert allowed_ids(mask) == ["athena"]


def test_placeholders_mixed_with_literals_and_across_chain(
    items: pd.DataFrame, interactions: pd.DataFrame
) -> None:
    parsed = parse_filter(
        'INCLUDE ItemID WHERE Items.CATEGORY IN ("Database", $CATEGORY) AND Items.PRICE <= $PRICE'
        " | EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ($EVENT_TYPE, $CATEGORY)"
    )
    assert parsed.placeholders == ("CATEGORY", "PRICE", "EVENT_TYPE")
    assert parsed.required_placeholders == ("CATEGORY", "PRICE")
    values = {"CATEGORY": '"Compute"', "PRICE": '"20"', "EVENT_TYPE": '"rated"'}
    assert allowed_ids(parsed.allowed(items, interactions, values)) == ["ec2", "lambda"]


def test_exclude_with_missing_values_is_skipped(items: pd.DataFrame) -> None:
    # Personalize: an EXCLUDE expression without its filter values is not used.
    parsed = parse_filter(
        "EXCLUDE ItemID WHERE Items.CATEGORY IN ($CATEGORY) | EXCLUDE ItemID WHERE Items.PRICE > 15"
    )
    assert parsed.required_placeholders == ()
    assert allowed_ids(parsed.allowed(items, None)) == ["s3", "ec2", "efs", "athena", "lambda"]
    with_values = parsed.allowed(items, None, {"CATEGORY": '"Storage"'})
    assert allowed_ids(with_values) == ["ec2", "athena", "lambda"]


def test_numeric_placeholder_values(items: pd.DataFrame) -> None:
    parsed = parse_filter("INCLUDE ItemID WHERE Items.PRICE < $MAX")
    assert allowed_ids(parsed.allowed(items, None, {"MAX": ' "6" '})) == ["s3", "lambda"]


def test_missing_include_placeholder_names_it_and_its_position(items: pd.DataFrame) -> None:
    parsed = parse_filter("INCLUDE ItemID WHERE Items.CATEGORY IN ($CATEGORY)")
    with pytest.raises(FilterValueError) as caught:
        parsed.allowed(items, None, {})
    assert caught.value.parameter == "CATEGORY"
    assert caught.value.position == 41
    assert "missing filter value for $CATEGORY (used at position 41" in str(caught.value)


def test_missing_placeholder_hints_at_case_mismatch(items: pd.DataFrame) -> None:
    parsed = parse_filter("INCLUDE ItemID WHERE Items.CATEGORY IN ($CATEGORY)")
    with pytest.raises(FilterValueError, match="have 'category', but names are case-sensitive"):
        parsed.allowed(items, None, {"category": '"Storage"'})


def test_values_for_unknown_parameter_are_rejected(items: pd.DataFrame) -> None:
    parsed = parse_filter("EXCLUDE ItemID WHERE Items.CATEGORY IN ($CATEGORY)")
    with pytest.raises(
        FilterValueError, match=r"name GENRE, which the filter does not use \(it uses \$CATEGORY\)"
    ):
        parsed.allowed(items, None, {"GENRE": '"Storage"'})


def test_comparison_placeholder_needs_one_number(items: pd.DataFrame) -> None:
    parsed = parse_filter("INCLUDE ItemID WHERE Items.PRICE < $MAX")
    with pytest.raises(FilterValueError, match="takes exactly one number; got 2 values") as caught:
        parsed.allowed(items, None, {"MAX": '"1","2"'})
    assert caught.value.position == 36
    with pytest.raises(
        FilterValueError, match=r"value \$MAX \('cheap'\) at position 36 is not a number"
    ):
        parsed.allowed(items, None, {"MAX": '"cheap"'})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"Storage"', ("Storage",)),
        ('"Storage","Compute"', ("Storage", "Compute")),
        (' "Storage" , "Compute" ', ("Storage", "Compute")),
        (r'"a \"quoted\" word","b,c"', ('a "quoted" word', "b,c")),
        ('""', ("",)),
    ],
)
def test_parse_filter_value(text: str, expected: tuple[str, ...]) -> None:
    assert parse_filter_value("P", text) == expected


@pytest.mark.parametrize(
    ("text", "position", "fragment"),
    [
        ("Storage", 1, 'expected a double-quoted value, found "S"'),
        ("", 1, "expected a double-quoted value, found end of value"),
        ('"Storage" "Compute"', 11, 'expected "," or end of value, found another quoted value'),
        ('"Storage",', 11, "expected a double-quoted value, found end of value"),
        ('"Storage', 1, 'expected a double-quoted value, found a " that is never closed'),
        ('"Storage";"Compute"', 10, 'expected "," or end of value, found ";"'),
        ('"Storage",  Compute', 13, 'expected a double-quoted value, found "C"'),
    ],
)
def test_malformed_filter_values(text: str, position: int, fragment: str) -> None:
    with pytest.raises(FilterValueError) as caught:
        parse_filter_value("CATEGORY", text)
    assert caught.value.parameter == "CATEGORY"
    assert caught.value.value_position == position
    message = str(caught.value)
    assert message.startswith(f"filter value for $CATEGORY is malformed at character {position}")
    assert fragment in message
    assert 'e.g. "Storage","Compute"' in message


def test_malformed_values_surface_through_allowed(items: pd.DataFrame) -> None:
    parsed = parse_filter("INCLUDE ItemID WHERE Items.CATEGORY IN ($CATEGORY)")
    with pytest.raises(FilterValueError, match="malformed at character 1"):
        parsed.allowed(items, None, {"CATEGORY": "Storage"})


def test_non_string_filter_value_is_rejected() -> None:
    with pytest.raises(FilterValueError, match=r"\$PRICE must be a string .* not int"):
        parse_filter_values({"PRICE": 10})  # type: ignore[dict-item]


# --------------------------------------------------------------------------- syntax errors


@pytest.mark.parametrize(
    ("expression", "position", "expected", "found"),
    [
        ("", 1, "INCLUDE or EXCLUDE", "end of expression"),
        ("   ", 4, "INCLUDE or EXCLUDE", "end of expression"),
        ('DROP ItemID WHERE Items.CATEGORY IN ("a")', 1, "INCLUDE or EXCLUDE", '"DROP"'),
        ('EXCLUDE ItemID WHER Items.CATEGORY IN ("a")', 16, "WHERE", '"WHER"'),
        ('EXCLUDE Items WHERE Items.CATEGORY IN ("a")', 9, "ItemID", '"Items"'),
        (
            "EXCLUDE ItemID WHERE Items.CATEGORY IN",
            39,
            '"(" to open the list of values',
            "end of expression",
        ),
        (
            'EXCLUDE ItemID WHERE Items.CATEGORY IN "a"',
            40,
            '"(" to open the list of values',
            'string "a"',
        ),
        (
            "EXCLUDE ItemID WHERE Items.CATEGORY IN ()",
            41,
            "a double-quoted value or $PARAMETER",
            '")"',
        ),
        ('EXCLUDE ItemID WHERE Items.CATEGORY IN ("a" "b")', 45, '"," or ")"', 'string "b"'),
        ('EXCLUDE ItemID WHERE Items.CATEGORY IN ("a)', 41, 'a closing "', "end of expression"),
        ('EXCLUDE ItemID WHERE Items.CATEGORY IN ("a"', 44, '"," or ")"', "end of expression"),
        (
            'EXCLUDE ItemID WHERE Items.CATEGORY IN ("a") garbage',
            46,
            "AND, OR, | or end of expression",
            '"garbage"',
        ),
        (
            'EXCLUDE ItemID WHERE Items.CATEGORY IN ("a") |',
            47,
            "INCLUDE or EXCLUDE",
            "end of expression",
        ),
        (
            'EXCLUDE ItemID WHERE Items.CATEGORY LIKE ("a")',
            37,
            "IN, NOT IN or a comparison operator (=, <, <=, >, >=)",
            '"LIKE"',
        ),
        ('EXCLUDE ItemID WHERE Items.CATEGORY NOT ("a")', 41, "IN", '"("'),
        (
            'EXCLUDE ItemID WHERE Items.CATEGORY = "Storage"',
            39,
            "a number or $PARAMETER",
            'string "Storage"',
        ),
        ("EXCLUDE ItemID WHERE Items.PRICE != 3", 34, "a keyword, field, value or operator", '"!"'),
        ("EXCLUDE ItemID WHERE Items.CATEGORY IN ('a')", 41, "a double-quoted string", '"\'"'),
        (
            "EXCLUDE ItemID WHERE Items.CATEGORY IN ($)",
            41,
            "a parameter name after $ (letters, digits, _)",
            '"$)"',
        ),
        (
            'EXCLUDE ItemID WHERE Itemz.CATEGORY IN ("a")',
            22,
            FIELD_EXPECTED,
            '"Itemz"',
        ),
        (
            'EXCLUDE ItemID WHERE IN ("a")',
            22,
            FIELD_EXPECTED,
            '"IN"',
        ),
        ('EXCLUDE ItemID WHERE Items CATEGORY IN ("a")', 28, '"."', '"CATEGORY"'),
        (
            "EXCLUDE ItemID WHERE Items.TIER IN (1)",
            37,
            "a double-quoted value or $PARAMETER",
            "number 1",
        ),
        ('EXCLUDE ItemID WHERE $X IN ("a")', 22, FIELD_EXPECTED, "parameter $X"),
        ('EXCLUDE ItemID WHERE Items.(CATEGORY) IN ("a")', 28, "a field name after Items.", '"("'),
    ],
)
def test_syntax_errors_name_position_expected_and_found(
    expression: str, position: int, expected: str, found: str
) -> None:
    with pytest.raises(FilterSyntaxError) as caught:
        parse_filter(expression)
    error = caught.value
    assert error.position == position
    assert error.expected == expected
    assert error.found == found
    assert str(error).startswith(
        f"filter syntax error at position {position}: expected {expected}, found {found}"
    )


def test_syntax_error_hints() -> None:
    with pytest.raises(
        FilterSyntaxError, match=r"\(unterminated string: the quote at this position"
    ):
        parse_filter('EXCLUDE ItemID WHERE Items.CATEGORY IN ("a)')
    with pytest.raises(FilterSyntaxError, match=re.escape("use IN (...) for text")):
        parse_filter('EXCLUDE ItemID WHERE Items.CATEGORY = "x"')
    with pytest.raises(FilterSyntaxError, match=re.escape('quote numbers too, as in ("10")')):
        parse_filter("EXCLUDE ItemID WHERE Items.TIER IN (1)")


def test_syntax_errors_are_filter_errors_and_value_errors() -> None:
    with pytest.raises(FilterError):
        parse_filter("")
    with pytest.raises(ValueError):
        parse_filter("")


# --------------------------------------------------------------------------- other errors


@pytest.mark.parametrize(
    ("expression", "position", "fragment"),
    [
        ('EXCLUDE ItemID WHERE Users.AGE IN ("30")', 22, "the Users dataset is not supported"),
        (
            'EXCLUDE ItemID WHERE Items.CATEGORY IN ("a") IF CurrentUser.AGE > 18',
            46,
            "IF at position 46 tests CurrentUser fields",
        ),
        (
            "INCLUDE ItemID WHERE Items.PRICE < CurrentItem.PRICE",
            36,
            "CurrentItem applies only to related-items",
        ),
        (
            "INCLUDE ItemID WHERE Items.CATEGORY IN CurrentItem.CATEGORY",
            40,
            "CurrentItem applies only",
        ),
        (
            'INCLUDE UserID WHERE Items.CATEGORY IN ("a")',
            9,
            "UserID at position 9 is not supported",
        ),
        ('INCLUDE ItemID WHERE Actions.NAME IN ("a")', 22, "the Actions dataset is not supported"),
        (
            'EXCLUDE ItemID WHERE Items.DESCRIPTION IN ("sql")',
            22,
            "Items.DESCRIPTION at position 22 is unstructured text",
        ),
        (
            'EXCLUDE ItemID WHERE Items.CATEGORY IN ("a") '
            'AND Interactions.EVENT_TYPE IN ("viewed")',
            50,
            "Interactions.EVENT_TYPE at position 50 cannot join Items.CATEGORY in one expression",
        ),
    ],
)
def test_unsupported_constructs_are_reported_at_their_position(
    expression: str, position: int, fragment: str
) -> None:
    with pytest.raises(FilterError) as caught:
        parse_filter(expression)
    assert not isinstance(caught.value, FilterSyntaxError)
    assert caught.value.position == position
    assert fragment in str(caught.value)


def test_more_than_five_distinct_fields_is_rejected() -> None:
    expression = " | ".join(f'EXCLUDE ItemID WHERE Items.F{index} IN ("x")' for index in range(6))
    with pytest.raises(
        FilterError, match=r"uses 6 distinct fields \(.*\); Personalize allows at most 5"
    ):
        parse_filter(expression)
    parse_filter(expression.rsplit(" | ", 1)[0])


def test_unknown_item_field_lists_the_columns(items: pd.DataFrame) -> None:
    parsed = parse_filter('EXCLUDE ItemID WHERE Items.COLOUR IN ("red")')
    with pytest.raises(FilterError) as caught:
        parsed.allowed(items, None)
    assert caught.value.position == 22
    assert str(caught.value) == (
        "unknown field Items.COLOUR at position 22: Items has "
        "ITEM_ID, SERVICE_NAME, CATEGORY, DESCRIPTION, PRICE, TIER, FREE"
    )


def test_unknown_interaction_field_is_reported_even_without_history(items: pd.DataFrame) -> None:
    parsed = parse_filter('EXCLUDE ItemID WHERE Interactions.EVENT IN ("viewed")')
    with pytest.raises(
        FilterError,
        match=re.escape(
            "unknown field Interactions.EVENT at position 22: Interactions has USER_ID"
        ),
    ):
        parsed.allowed(items, None)


def test_comparison_on_text_field_is_a_type_error(items: pd.DataFrame) -> None:
    parsed = parse_filter("INCLUDE ItemID WHERE Items.CATEGORY > 3")
    with pytest.raises(FilterError) as caught:
        parsed.allowed(items, None)
    assert caught.value.position == 22
    assert "Items.CATEGORY at position 22 holds text; > compares numbers only" in str(caught.value)


def test_boolean_fields_cannot_be_filtered(items: pd.DataFrame) -> None:
    with pytest.raises(FilterError, match=re.escape("Items.FREE at position 22 is boolean")):
        parse_filter('INCLUDE ItemID WHERE Items.FREE IN ("True")').allowed(items, None)
    with pytest.raises(FilterError, match=re.escape("Items.FREE at position 22 holds boolean")):
        parse_filter("INCLUDE ItemID WHERE Items.FREE = 1").allowed(items, None)


def test_non_numeric_value_for_numeric_field(items: pd.DataFrame) -> None:
    parsed = parse_filter('INCLUDE ItemID WHERE Items.TIER IN ("gold")')
    with pytest.raises(
        FilterError,
        match=re.escape("Items.TIER at position 22 is numeric, but value 'gold' at position 37"),
    ):
        parsed.allowed(items, None)


# --------------------------------------------------------------------------- case and AST


def test_keywords_datasets_and_fields_are_case_insensitive(
    items: pd.DataFrame, interactions: pd.DataFrame
) -> None:
    lower = 'exclude itemid where interactions.event_type in ("LAUNCHED")'
    assert evaluate(lower, items, interactions) == ["ec2", "rds", "efs", "lambda"]
    mixed = 'Include ItemId Where ITEMS.category Not In ("Storage") aNd items.Price < 11'
    assert evaluate(mixed, items, interactions) == ["athena", "lambda"]


def test_parameter_names_keep_their_case() -> None:
    assert parse_filter("INCLUDE ItemID WHERE Items.PRICE < $maxPrice").placeholders == (
        "maxPrice",
    )


def test_parse_builds_a_frozen_hashable_tree() -> None:
    parsed = parse_filter(
        'INCLUDE ItemID WHERE Items.CATEGORY IN ("Storage", $C) AND Items.PRICE <= 9'
        ' | EXCLUDE ItemID WHERE Interactions.EVENT_TYPE NOT IN ("viewed")'
    )
    include, exclude = parsed.expressions
    assert (include.action, include.dataset, include.position) == (Action.INCLUDE, Dataset.ITEMS, 1)
    assert (exclude.action, exclude.dataset) == (Action.EXCLUDE, Dataset.INTERACTIONS)
    assert isinstance(include.condition, AllOf)
    membership, comparison = include.condition.conditions
    assert isinstance(membership, Membership)
    assert membership.values == (StringValue("Storage", 41), Placeholder("C", 52))
    assert not membership.negated
    assert isinstance(comparison, Comparison)
    assert comparison.operator is ComparisonOperator.LE
    assert str(comparison.field) == "Items.PRICE"
    assert isinstance(exclude.condition, Membership) and exclude.condition.negated
    assert hash(parsed) == hash(parse_filter(parsed.text))
    assert str(parsed) == parsed.text
    assert parsed.uses_interactions
    assert not parse_filter('INCLUDE ItemID WHERE Items.CATEGORY IN ("a")').uses_interactions
    with pytest.raises(AttributeError):
        parsed.text = "other"  # type: ignore[misc]


def test_numeric_in_takes_placeholder_values(items: pd.DataFrame) -> None:
    parsed = parse_filter("EXCLUDE ItemID WHERE Items.TIER IN ($TIERS)")
    assert allowed_ids(parsed.allowed(items, None, {"TIERS": '"1","3"'})) == ["ec2", "efs"]
    with pytest.raises(FilterValueError) as caught:
        parsed.allowed(items, None, {"TIERS": '"1","top"'})
    assert caught.value.parameter == "TIERS"
    assert "value $TIERS ('top') at position 37 is not a number" in str(caught.value)


def test_field_matching_two_columns_by_case_must_be_exact(items: pd.DataFrame) -> None:
    frame = items.assign(category=items["CATEGORY"].str.lower())
    loose = parse_filter('INCLUDE ItemID WHERE Items.Category IN ("storage")')
    with pytest.raises(
        FilterError, match="matches columns CATEGORY, category; write the exact name"
    ):
        loose.allowed(frame, None)
    exact = parse_filter('INCLUDE ItemID WHERE Items.category IN ("storage")')
    assert allowed_ids(exact.allowed(frame, None)) == ["s3", "efs"]


def test_interaction_filters_need_item_ids(items: pd.DataFrame, interactions: pd.DataFrame) -> None:
    parsed = parse_filter(DEFAULT_EXCLUDE_LAUNCHED)
    with pytest.raises(FilterError, match="items have no ITEM_ID column"):
        parsed.allowed(items.drop(columns="ITEM_ID"), interactions)
    with pytest.raises(FilterError, match="interactions have no ITEM_ID column"):
        parsed.allowed(items, interactions.drop(columns="ITEM_ID"))


def test_expression_must_be_text() -> None:
    with pytest.raises(FilterError, match="filter expression must be a string, not NoneType"):
        parse_filter(None)  # type: ignore[arg-type]


def test_indexed_frame_is_reused_across_requests(
    items: pd.DataFrame, interactions: pd.DataFrame
) -> None:
    table = IndexedFrame(items)
    parsed = parse_filter(
        "INCLUDE ItemID WHERE Items.CATEGORY IN ($CATEGORY) | " + DEFAULT_EXCLUDE_LAUNCHED
    )
    storage = parsed.allowed(table, interactions, {"CATEGORY": '"Storage"'})
    compute = parsed.allowed(table, interactions, {"CATEGORY": '"Compute"'})
    assert allowed_ids(storage) == ["efs"]
    assert allowed_ids(compute) == ["ec2", "lambda"]
    other_user = interactions.assign(EVENT_TYPE="viewed")
    assert allowed_ids(parsed.allowed(table, other_user, {"CATEGORY": '"Storage"'})) == [
        "s3",
        "efs",
    ]


@pytest.mark.parametrize("reused", [True, False])
def test_duplicate_item_ids_all_match(reused: bool) -> None:
    frame = pd.DataFrame({"ITEM_ID": ["a", "b", "a"], "CATEGORY": ["x", "y", None]})
    history = pd.DataFrame({"ITEM_ID": ["a"], "EVENT_TYPE": ["launched"]})
    table = IndexedFrame(frame, reused=reused)
    parsed = parse_filter(DEFAULT_EXCLUDE_LAUNCHED)
    assert parsed.allowed(table, history).tolist() == [False, True, False]
    # A missing category is in no list, so NOT IN selects it.
    not_x = parse_filter('INCLUDE ItemID WHERE Items.CATEGORY NOT IN ("x")')
    assert not_x.allowed(table, None).tolist() == [False, True, True]


def test_item_ids_and_other_interaction_text_fields(
    items: pd.DataFrame, interactions: pd.DataFrame
) -> None:
    by_id = 'EXCLUDE ItemID WHERE Items.ITEM_ID IN ("ec2", "nope", $MORE)'
    assert evaluate(by_id, items, None, {"MORE": '"lambda"'}) == ["s3", "rds", "efs", "athena"]
    mine = 'INCLUDE ItemID WHERE Interactions.USER_ID IN ("u1")'
    assert evaluate(mine, items, interactions) == ["s3", "ec2", "rds", "efs", "athena"]
    assert evaluate(mine.replace("u1", "U1"), items, interactions) == []


def test_interaction_rows_from_arrays_treat_missing_text_as_no_value(items: pd.DataFrame) -> None:
    rows = InteractionRows(
        {
            "ITEM_ID": CodedText(np.array([0, 1, -1]), ["s3", "ec2"]),
            "EVENT_TYPE": CodedText(np.array([0, -1, 0]), ["LAUNCHED"]),
            "EVENT_VALUE": np.array([1.0, np.nan, 2.0]),
        }
    )
    launched = parse_filter(DEFAULT_EXCLUDE_LAUNCHED)
    assert allowed_ids(launched.allowed(items, rows)) == ["ec2", "rds", "efs", "athena", "lambda"]
    anything = parse_filter('INCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("*")')
    assert allowed_ids(anything.allowed(items, rows)) == ["s3"]
    rated = parse_filter("INCLUDE ItemID WHERE Interactions.EVENT_VALUE >= 1")
    assert allowed_ids(rated.allowed(items, rows)) == ["s3"]


def test_interaction_rows_refuse_ragged_or_mismatched_columns() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        InteractionRows({"ITEM_ID": CodedText(np.array([0]), ["a"]), "TIMESTAMP": np.array([])})
    text = InteractionRows({"ITEM_ID": CodedText(np.array([0]), ["a"])})
    with pytest.raises(ValueError, match="columns"):
        InteractionRows.concat([text, InteractionRows({"USER_ID": np.array([1])})])
    with pytest.raises(ValueError, match="text column with a numeric one"):
        InteractionRows.concat([text, InteractionRows({"ITEM_ID": np.array([1.0])})])
