"""The console's contract module (hosting/app/contract.js) is openapi.yaml's: regenerated, it
equals the committed file, its lists are the API's allowed values, and no console module keeps
its own copy of one."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from local_stack.console_contract import (
    ALLOWED,
    COMMAND,
    GENERATED,
    OPENAPI,
    generate,
    main,
    ts_type,
)

APP = Path(__file__).resolve().parents[2] / "hosting" / "app"
STRING_ARRAY = re.compile(r'\[(\s*"[^"]*"(?:\s*,\s*"[^"]*")+\s*,?\s*)\]')


def spec() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(OPENAPI.read_text())
    return loaded


def exported_lists(text: str) -> dict[str, list[str]]:
    """Every `export const NAME = Object.freeze([...])` of a module, read back as strings."""
    found = re.findall(r"export const (\w+) = Object\.freeze\(\[(.*?)\]\);", text)
    return {name: re.findall(r'"([^"]*)"', items) for name, items in found}


def test_the_committed_module_is_the_generated_one() -> None:
    assert GENERATED.read_text() == generate(spec()), (
        f"{GENERATED.name} is out of date with openapi.yaml: run `{COMMAND}` and commit it"
    )


def test_check_fails_on_a_stale_module(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stale = tmp_path / "contract.js"
    stale.write_text(GENERATED.read_text().replace('"csv", ', "", 1))
    assert main(["--check"], stale) == 1
    assert f"run `{COMMAND}`" in capsys.readouterr().err
    assert main([], stale) == 0  # regenerates it
    assert main(["--check"], stale) == 0
    assert stale.read_text() == GENERATED.read_text()


def test_the_lists_are_the_apis_allowed_values() -> None:
    """Read from openapi.yaml by hand (not through the generator's pointers)."""
    api = spec()
    paths = api["paths"]
    schemas = api["components"]["schemas"]

    def query(path: str, name: str) -> list[str]:
        (parameter,) = [p for p in paths[path]["get"]["parameters"] if p["name"] == name]
        return list(parameter["schema"]["enum"])

    lists = exported_lists(GENERATED.read_text())
    assert lists["WINDOWS"] == query("/summary", "window") == ["1h", "24h", "7d", "30d"]
    assert lists["ALERT_FILTERS"] == query("/alerts", "status")
    assert lists["SEVERITIES"] == query("/alerts", "severity")
    assert lists["EXPORT_DATASETS"] == query("/export", "dataset")
    assert lists["EXPORT_FORMATS"] == query("/export", "format")
    assert lists["BACKTEST_WINDOWS"] == query("/alert-rules/{ruleId}/backtest", "window")
    rule = schemas["AlertRule"]["properties"]
    assert lists["CHANNELS"] == rule["channels"]["items"]["enum"]
    assert lists["RULE_SHORT_WINDOWS"] == [w for w in rule["shortWindow"]["enum"] if w]
    assert lists["RULE_WINDOWS_BURN_RATE"] == rule["window"]["x-enum-by-kind"]["burn_rate"]
    assert lists["CONTROL_STATES"] == schemas["ProviderControl"]["properties"]["state"]["enum"]
    assert len(lists) == len(ALLOWED) + 2  # and the two windows by rule kind
    assert 'export const BACKTEST_WINDOWS_DEFAULT = "7d";' in GENERATED.read_text()


def test_schema_types() -> None:
    """OpenAPI schemas become the TypeScript types a JSDoc typedef holds."""
    node = {
        "type": "object",
        "required": ["a", "c"],
        "properties": {
            "a": {"type": "integer", "nullable": True},
            "b": {"type": "array", "items": {"$ref": "#/components/schemas/Window"}},
            "5m": {"type": "string", "enum": ["x", "y"]},
        },
        "additionalProperties": {"type": "boolean"},
    }
    assert ts_type(node) == (
        '{\n  a: number | null;\n  b?: Array<TimeWindow>;\n  "5m"?: "x" | "y";\n  c: boolean;\n}'
        " & { [key: string]: boolean }"
    )
    assert ts_type({"allOf": [{"$ref": "#/x/Error"}, {"type": "object"}]}) == (
        "ErrorBody & { [key: string]: unknown }"
    )


def test_no_console_module_keeps_its_own_copy_of_a_list() -> None:
    """No module but contract.js writes two values of one allowed list as an array of strings."""
    lists = exported_lists(GENERATED.read_text())
    copies = []
    for module in sorted(APP.rglob("*.js")):
        if module == GENERATED:
            continue
        for array in STRING_ARRAY.findall(module.read_text()):
            strings = set(re.findall(r'"([^"]*)"', array))
            for name, values in lists.items():
                if len(strings & set(values)) >= 2:
                    copies.append(f"{module.relative_to(APP)}: [{array}] copies {name}")
    assert copies == []
