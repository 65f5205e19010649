"""The console's contract module (hosting/app/contract.js), generated from openapi.yaml: the
allowed values the console offers, as frozen arrays with a union type each, and the response
shapes of the API as JSDoc typedefs, so TypeScript checks the console against the API.

`python -m local_stack.console_contract` rewrites the module; `--check` only says whether the
committed one is current (tests/unit/test_console_contract.py holds it so).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
OPENAPI = REPO_ROOT / "openapi.yaml"
GENERATED = REPO_ROOT / "hosting" / "app" / "contract.js"
COMMAND = "python -m local_stack.console_contract"
IDENTIFIER = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")
# Schemas whose names would shadow a global of the browser (its Window, JavaScript's Error).
RENAMED = {"Error": "ErrorBody", "Window": "TimeWindow"}

Schema = dict[str, Any]


@dataclass(frozen=True)
class Allowed:
    """One list of allowed values: its constant, its type, and where openapi.yaml holds it."""

    constant: str
    type_name: str
    pointer: str  # JSON pointer (RFC 6901) to a schema with `enum`, or to a query parameter
    what: str


def query(path: str, name: str) -> str:
    """The pointer to the schema of a GET path's query parameter."""
    return f"/paths/{path.replace('/', '~1')}/get/parameters/{name}"


def schema(*parts: str) -> str:
    """The pointer to a schema under components/schemas."""
    return "/components/schemas/" + "/".join(parts)


ALLOWED = (
    Allowed("WINDOWS", "WindowName", query("/summary", "window"), "windows a figure page asks for"),
    Allowed("GRANULARITIES", "Granularity", query("/trends", "granularity"), "trend buckets"),
    Allowed(
        "TREND_METRICS", "TrendMetric", query("/trends", "metric"), "figures a trend forecasts"
    ),
    Allowed("ALERT_FILTERS", "AlertFilter", query("/alerts", "status"), "alert filters"),
    Allowed("SEVERITIES", "Severity", schema("AlertRule/properties/severity"), "alert severities"),
    Allowed(
        "ALERT_STATUSES", "AlertStatus", schema("AlertInstance/properties/status"), "alert states"
    ),
    Allowed(
        "BACKTEST_WINDOWS",
        "BacktestWindow",
        query("/alert-rules/{ruleId}/backtest", "window"),
        "windows a backtest replays",
    ),
    Allowed("EXPORT_DATASETS", "ExportDataset", query("/export", "dataset"), "export datasets"),
    Allowed("EXPORT_FORMATS", "ExportFormat", query("/export", "format"), "export file formats"),
    Allowed("DIGEST_PERIODS", "DigestPeriod", query("/digest", "period"), "digest periods"),
    Allowed(
        "GENERATION_STATUSES",
        "GenerationStatus",
        query("/generations", "status"),
        "statuses a generation list filters by",
    ),
    Allowed("RULE_KINDS", "RuleKind", schema("AlertRule/properties/kind"), "alert rule kinds"),
    Allowed(
        "RULE_COMPARATORS", "Comparator", schema("AlertRule/properties/comparator"), "comparators"
    ),
    Allowed("RULE_WINDOWS", "RuleWindow", schema("AlertRule/properties/window"), "rule windows"),
    Allowed(
        "RULE_SHORT_WINDOWS",
        "RuleShortWindow",
        schema("AlertRule/properties/shortWindow"),
        "a burn-rate rule's short windows",
    ),
    Allowed("RULE_SCOPES", "RuleScope", schema("AlertRule/properties/scopes/items"), "rule scopes"),
    Allowed("RULE_METRICS", "RuleMetric", schema("AlertRule/properties/metric"), "rule metrics"),
    Allowed("RULE_NO_DATA", "RuleNoData", schema("AlertRule/properties/noData"), "no-data choices"),
    Allowed(
        "RULE_DIRECTIONS", "RuleDirection", schema("AlertRule/properties/direction"), "directions"
    ),
    Allowed("CHANNELS", "Channel", schema("AlertRule/properties/channels/items"), "channels"),
    Allowed(
        "CONTROL_STATES",
        "ControlState",
        schema("ProviderControl/properties/state"),
        "control states",
    ),
    Allowed(
        "BUDGET_STATUSES",
        "BudgetStatus",
        schema("ObjectiveStatus/allOf/1/properties/budgets/items/properties/status"),
        "error budget states",
    ),
    Allowed(
        "DELIVERY_STATUSES",
        "DeliveryStatus",
        "/paths/~1alerts~1{alertId}/get/responses/200/content/application~1json/schema"
        "/properties/deliveries/items/properties/status",
        "notification delivery states",
    ),
    Allowed(
        "ERROR_CODES", "ErrorCode", schema("Error/properties/error/properties/code"), "error codes"
    ),
    Allowed(
        "PANEL_FIGURES",
        "FigureName",
        schema("PanelFigure"),
        "figures a dashboard panel shows",
    ),
    Allowed("PANEL_CHARTS", "ChartKind", schema("PanelChart"), "panel charts"),
)


def resolve(spec: Schema, pointer: str) -> Schema:
    """The node a JSON pointer names; a parameter list is indexed by parameter name."""
    node: Any = spec
    for raw in pointer.strip("/").split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list) and not part.isdigit():
            (node,) = [p for p in node if p.get("name") == part]
            node = node["schema"]
        elif isinstance(node, list):
            node = node[int(part)]
        else:
            node = node[part]
    if not isinstance(node, dict):
        raise ValueError(f"{pointer}: not a schema")
    return node


def literal(value: Any) -> str:
    """A JSON value as a JavaScript (and TypeScript) literal."""
    return json.dumps(value, ensure_ascii=False)


def listed(values: list[Any]) -> str:
    """Values as the items of a JavaScript array."""
    return ", ".join(map(literal, values))


def key(name: str) -> str:
    """A property name, quoted unless it is an identifier."""
    return name if IDENTIFIER.match(name) else literal(name)


def ts_type(node: Schema, indent: str = "") -> str:
    """The TypeScript type of a JSON schema (OpenAPI 3.0 subset openapi.yaml uses)."""
    if "$ref" in node:
        name = str(node["$ref"]).rsplit("/", 1)[1]
        return RENAMED.get(name, name)
    if "allOf" in node:
        text = " & ".join(ts_type(part, indent) for part in node["allOf"])
    elif "enum" in node:
        text = " | ".join(literal(value) for value in node["enum"])
    elif node.get("type") in ("integer", "number"):
        text = "number"
    elif node.get("type") == "string":
        text = "string"
    elif node.get("type") == "boolean":
        text = "boolean"
    elif node.get("type") == "array":
        text = f"Array<{ts_type(node.get('items', {}), indent)}>"
    elif node.get("type") == "object" or "properties" in node or "required" in node:
        text = object_type(node, indent)
    else:
        text = "unknown"
    if node.get("nullable") and "null" not in text.split(" | "):
        text = f"({text} | null)" if " " in text else f"{text} | null"
    return text


def object_type(node: Schema, indent: str) -> str:
    """An object type: its properties (optional unless required), then any other keys."""
    properties: dict[str, Schema] = node.get("properties", {})
    required = node.get("required", [])
    extra = node.get("additionalProperties")
    extra_type = ts_type(extra, indent) if isinstance(extra, dict) else "unknown"
    inner = indent + "  "
    lines = [
        f"{inner}{key(name)}{'' if name in required else '?'}: {ts_type(sub, inner)};"
        for name, sub in properties.items()
    ]
    lines += [f"{inner}{key(name)}: {extra_type};" for name in required if name not in properties]
    index = f"{{ [key: string]: {extra_type} }}"
    if not lines:
        return index
    shape = "{\n" + "\n".join(lines) + f"\n{indent}}}"
    return f"{shape} & {index}" if isinstance(extra, dict) else shape


def json_response(operation: Schema) -> Schema | None:
    """The schema of an operation's 200 (or 201, a creation's) JSON answer, if it has one."""
    responses = operation.get("responses", {})
    content = responses.get("200", responses.get("201", {})).get("content", {})
    answer = content.get("application/json")
    if answer is None or len(content) > 1:  # a file download is no JSON answer
        return None
    return dict(answer["schema"])


def comment(text: str, indent: str = "") -> list[str]:
    """A JSDoc block's lines for a (possibly multi-line) text."""
    return [f"{indent} * {line}".rstrip() for line in text.splitlines()]


def generate(spec: Schema) -> str:
    """The text of hosting/app/contract.js for an OpenAPI document."""
    out = [
        "// @ts-check",
        f"// GENERATED from openapi.yaml by `{COMMAND}`; do not edit.",
        "// The API's allowed values (frozen arrays, each with its union type) and the shapes of",
        "// its JSON answers (typedefs; GetResponses, PostResponses and PutResponses by path).",
        "",
    ]
    for allowed in ALLOWED:
        node = resolve(spec, allowed.pointer)
        values = [value for value in node["enum"] if value is not None]
        union = " | ".join(literal(value) for value in values)
        out += [
            f"// {allowed.what[0].upper()}{allowed.what[1:]}.",
            f"/** @typedef {{{union}}} {allowed.type_name} */",
            f"/** @type {{ReadonlyArray<{allowed.type_name}>}} */",
            f"export const {allowed.constant} = Object.freeze([{listed(values)}]);",
        ]
        if "default" in node:
            out += [
                f"/** @type {{{allowed.type_name}}} */",
                f"export const {allowed.constant}_DEFAULT = {literal(node['default'])};",
            ]
        for kind, subset in node.get("x-enum-by-kind", {}).items():
            constant = f"{allowed.constant}_{kind.upper()}"
            out += [
                f"/** @type {{ReadonlyArray<{allowed.type_name}>}} */",
                f"export const {constant} = Object.freeze([{listed(subset)}]);",
            ]
        out.append("")
    for name, node in spec["components"]["schemas"].items():
        typedef = RENAMED.get(name, name)
        out += ["/**", f" * @typedef {{{ts_type(node, ' * ')}}} {typedef}", " */", ""]
    for method in ("get", "post", "put"):
        lines = []
        for path, item in spec["paths"].items():
            operation = item.get(method)
            answer = json_response(operation) if operation else None
            if answer is not None:
                lines.append(f" *   {literal(path)}: {ts_type(answer, ' *   ')};")
        out += ["/**", " * @typedef {{", *lines, f" * }}}} {method.capitalize()}Responses", " */"]
        out.append("")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None, contract: Path = GENERATED) -> int:
    """Write the contract module, or with --check say whether it is current."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the module is stale")
    args = parser.parse_args(argv)
    text = generate(yaml.safe_load(OPENAPI.read_text()))
    if args.check:
        if contract.read_text() != text:
            print(f"{contract} is stale: run `{COMMAND}`", file=sys.stderr)
            return 1
        return 0
    contract.write_text(text)
    print(f"wrote {contract}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
