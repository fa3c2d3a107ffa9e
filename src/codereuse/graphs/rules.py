"""Per-language tables that tell the control-flow and data-flow passes what each node type means.

Everything language-specific lives here, as data; control_flow.py and data_flow.py are generic.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Unit:
    """A node with its own control-flow graph (function, method, class body, module)."""
    body: str | None          # field holding the body; None: the node itself is the body (module)
    params: str | None = None  # field holding the parameters, defined at the unit's entry
    name: str | None = None    # field naming a variable the definition binds in the enclosing unit


@dataclass(frozen=True)
class Rules:
    units: dict[str, Unit]
    roles: dict[str, str]                 # statement type -> control-flow role (default: simple)
    skip: frozenset[str]                  # not statements at all (comments) and never walked for names
    assign: dict[str, tuple[str, str, str]]  # type -> (target field, value field, "plain"|"aug"|"op")
    update: frozenset[str]                # x++ : every named child is used and defined
    binders: dict[str, str | None]        # type -> field whose names it binds (None: unfielded children)
    def_containers: frozenset[str]        # in a binding position, all children bind (tuples, patterns)
    restrict: dict[str, tuple[str, ...]]  # type -> the only fields that hold variable uses
    scopes: dict[str, str] = field(default_factory=dict)  # expression scope -> field of its bound names
    loop_update: str = "update"
    loop_init: tuple[str, ...] = ()
    case_types: frozenset[str] = frozenset()
    case_label: str = ""                  # how a case names its label: a field name or a child type
    fallthrough: frozenset[str] = frozenset()
    handler_types: frozenset[str] = frozenset()
    else_type: str = "else_clause"
    elif_type: str = "elif_clause"

    def role(self, node_type: str) -> str:
        return self.roles.get(node_type, "simple")


_COMMON_ROLES = {"return_statement": "return", "break_statement": "break",
                 "continue_statement": "continue", "if_statement": "if", "while_statement": "while",
                 "ERROR": "block"}

PYTHON = Rules(
    units={"module": Unit(None), "function_definition": Unit("body", "parameters", "name"),
           "class_definition": Unit("body", None, "name")},
    roles=_COMMON_ROLES | {"block": "block", "for_statement": "for", "raise_statement": "raise",
                           "try_statement": "try", "with_statement": "with", "match_statement": "match",
                           "import_statement": "import", "import_from_statement": "import",
                           "future_import_statement": "import",
                           "global_statement": "none", "nonlocal_statement": "none"},
    skip=frozenset({"comment", "line_continuation"}),
    assign={"assignment": ("left", "right", "plain"), "augmented_assignment": ("left", "right", "aug"),
            "named_expression": ("name", "value", "plain"), "for_statement": ("left", "right", "plain"),
            "for_in_clause": ("left", "right", "plain")},
    update=frozenset(),
    binders={"as_pattern": "alias", "default_parameter": "name", "typed_default_parameter": "name",
             "typed_parameter": None, "list_splat_pattern": None, "dictionary_splat_pattern": None},
    def_containers=frozenset({"pattern_list", "tuple_pattern", "list_pattern", "tuple", "list",
                              "parenthesized_expression", "as_pattern_target", "expression_list",
                              "list_splat_pattern", "parameters", "lambda_parameters"}),
    restrict={"attribute": ("object",), "keyword_argument": ("value",)},
    scopes={"lambda": "parameters", "list_comprehension": "", "set_comprehension": "",
            "dictionary_comprehension": "", "generator_expression": ""},
    case_types=frozenset({"case_clause"}),
    handler_types=frozenset({"except_clause", "except_group_clause"}),
)

JAVA = Rules(
    units={"program": Unit(None), "method_declaration": Unit("body", "parameters"),
           "constructor_declaration": Unit("body", "parameters"),
           "compact_constructor_declaration": Unit("body"),
           "class_declaration": Unit("body"), "interface_declaration": Unit("body"),
           "enum_declaration": Unit("body"), "record_declaration": Unit("body", "parameters"),
           "lambda_expression": Unit("body", "parameters")},
    roles=_COMMON_ROLES | {"block": "block", "class_body": "block", "interface_body": "block",
                           "enum_body_declarations": "block", "constructor_body": "block",
                           "for_statement": "cfor", "enhanced_for_statement": "for",
                           "do_statement": "do", "throw_statement": "raise",
                           "try_statement": "try", "try_with_resources_statement": "try",
                           "synchronized_statement": "with", "labeled_statement": "labeled",
                           "switch_expression": "switch"},
    skip=frozenset({"line_comment", "block_comment", "marker_annotation", "annotation"}),
    assign={"assignment_expression": ("left", "right", "op"),
            "enhanced_for_statement": ("name", "value", "plain")},
    update=frozenset({"update_expression"}),
    binders={"variable_declarator": "name", "local_variable_declaration": "declarator",
             "formal_parameter": "name", "spread_parameter": None, "catch_formal_parameter": "name",
             "resource": "name", "inferred_parameters": None},
    def_containers=frozenset({"formal_parameters"}),
    restrict={"field_access": ("object",), "method_invocation": ("object", "arguments"),
              "labeled_statement": (), "break_statement": (), "continue_statement": (),
              "method_reference": ()},
    scopes={"lambda_expression": "parameters"},
    loop_init=("init",),
    case_types=frozenset({"switch_block_statement_group", "switch_rule"}),
    case_label="switch_label",
    fallthrough=frozenset({"switch_block_statement_group"}),
    handler_types=frozenset({"catch_clause"}),
)

C = Rules(
    units={"translation_unit": Unit(None), "function_definition": Unit("body", "declarator")},
    roles=_COMMON_ROLES | {"compound_statement": "block", "for_statement": "cfor",
                           "do_statement": "do", "switch_statement": "switch",
                           "labeled_statement": "labeled", "goto_statement": "goto"},
    skip=frozenset({"comment"}),
    assign={"assignment_expression": ("left", "right", "op")},
    update=frozenset({"update_expression"}),
    binders={"declaration": "declarator", "init_declarator": "declarator",
             "parameter_declaration": "declarator", "pointer_declarator": "declarator",
             "array_declarator": "declarator", "function_declarator": "declarator",
             "attributed_declarator": None},
    def_containers=frozenset({"parenthesized_declarator", "parameter_list"}),
    restrict={"field_expression": ("argument",), "goto_statement": (), "labeled_statement": ()},
    loop_init=("initializer",),
    case_types=frozenset({"case_statement"}),
    case_label="value",
    fallthrough=frozenset({"case_statement"}),
)

RULES = {"python": PYTHON, "java": JAVA, "c": C}
