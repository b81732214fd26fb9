"""All SQL is parameterised (issue 7, part 7): a static check of the source with ``ast``.

Every call of an asyncpg query method (``execute``, ``fetch``, ``fetchrow``,
``fetchval``, ``executemany``, ``prepare``, ``cursor``, ``copy_*``) in
``ledger/``, ``projections/`` and ``api/`` is found, and its SQL argument must
be built only from text fixed in the source:

* string constants, and f-strings, ``+``, ``%`` and ``.format``/``.join`` over them;
* names (module constants, local variables) all of whose assignments are such text;
* a value of a module-level dict or tuple of such text, picked by any key
  (``_GROUP_COLUMNS[group_by]``: the request chooses among fixed columns,
  it never writes one);
* expressions named in ``ALLOWED`` below, each with the reason it cannot
  carry a request's text into the SQL.

Values travel as ``$n`` parameters. A new query that interpolates anything
else fails here until it is parameterised or reviewed into ``ALLOWED``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("ledger", "projections", "api")
QUERY_METHODS = frozenset({
    "execute", "executemany", "fetch", "fetchrow", "fetchval", "prepare", "cursor",
    "copy_from_query", "copy_from_table", "copy_to_table", "copy_records_to_table",
})
NOT_SQL_RECEIVERS = frozenset({"self", "bus", "self.bus", "call.ledger.bus", "ledger.bus", "response"})
"""``bus.execute(command)`` runs a ledger command and ``response.prepare(request)`` is aiohttp's, not SQL."""

ALLOWED: dict[tuple[str, str], str] = {
    # (file, expression as ``ast.unparse`` writes it) -> why it is safe
    ("ledger/database.py", "ident"):
        "CREATE DATABASE takes no parameter; the name is quoted as an identifier (inner quotes doubled) "
        "and comes from configuration (TTLEDGER_DATABASE_NAME, the eventsourcing setting), never a request",
    ("ledger/migrate.py", "migration.sql"): "the text of a migration file shipped in the package",
    ("projections/base.py", "self.spec.column_names"): "column names declared in code (ProjectionSpec)",
    ("projections/base.py", "self.spec.name"): "a projection table name declared in code",
    ("projections/base.py", "column"): "a key column of the ProjectionSpec, declared in code",
    ("projections/base.py", "col.type"): "a column type of the ProjectionSpec, declared in code",
    ("projections/base.py", "self.spec.upsert_sql()"): "built from the ProjectionSpec's declared names",
    ("projections/base.py", "spec.stage"): "a staging table name derived from the declared table name",
    ("projections/base.py", "spec.name"): "a projection table name declared in code",
    ("projections/base.py", "spec.upsert_from_stage_sql()"): "built from the ProjectionSpec's declared names",
    ("projections/base.py", "statement"): "index DDL of the ProjectionSpec, declared in code",
    ("projections/base.py", "name"): "an index name of the ProjectionSpec, declared in code",
    ("projections/runner.py", "table"): "a table of a registered projection (declared in code), quoted",
    ("projections/runner.py", "queue.get_nowait()"):
        "index DDL of the chosen projections' TableSpecs (spec.index_ddl()), declared in code",
    ("projections/runner.py", "analysed.get_nowait()"): "a table a registered projection declares in code",
    ("projections/queries.py", "period"):
        "checked against PERIODS (year, quarter, month) before any SQL is built (StatisticsQueryError)",
    ("projections/queries.py", "group_by"):
        "each name is checked against the dimension map (CONTRACT_DIMS, TRANSFER_DIMS, UFPL_DIMS, "
        "RECEIVABLE_GROUPS) before any SQL is built; a name only labels a column picked from that map",
    ("projections/queries.py", "chosen.date_column"):
        "a transfer-rate formula registered in code (projections/definitions.py); the request picks it by name",
    ("projections/queries.py", "chosen.numerator_sql"): "as chosen.date_column: SQL of a formula declared in code",
    ("projections/queries.py", "chosen.denominator_sql"): "as chosen.date_column: SQL of a formula declared in code",
    ("projections/queries.py", "chosen.population_sql"): "as chosen.date_column: SQL of a formula declared in code",
    # As known at (bitemporal ``known_at``): a versioned table read as it was at a log position.
    ("projections/queries.py", "call:known"):
        "a versioned table declared in code (TableSpec.known_as_of_sql: its declared columns), its name "
        "picked by the code; ``known_at`` travels as a ``$n`` bind parameter (Sql.param)",
    ("projections/reports.py", "call:known"): "as in projections/queries.py: projections.queries.known",
    ("projections/register.py", "call:known"): "as in projections/queries.py: projections.queries.known",
    ("api/routes/statistics.py", "call:known"): "as in projections/queries.py: projections.queries.known",
    ("projections/obligation_queries.py", "call:_table"):
        "a TableSpec declared in code (projections/obligations.py), as is or as known at a ``$n`` "
        "parameter (TableSpec.known_as_of_sql: its declared columns)",
}


@dataclass(frozen=True)
class Finding:
    file: str
    line: int
    method: str
    expression: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.method}(...) interpolates `{self.expression}`"


FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda


@dataclass
class Scope:
    """Where names resolve: arguments bound by a call, the enclosing functions' assignments, the module's."""

    module: ast.Module
    functions: list[ast.AST]
    bindings: dict[str, tuple[ast.expr, Scope]] = field(default_factory=dict)

    def assignments(self, name: str, line: int | None = None) -> list[tuple[ast.expr, Scope]] | None:
        """The values ``name`` is given (in its own function: up to ``line``), or None for an unbound parameter."""
        if name in self.bindings:
            return [self.bindings[name]]
        for i in range(len(self.functions) - 1, -1, -1):
            function = self.functions[i]
            outer = Scope(self.module, self.functions[: i + 1], self.bindings)
            before = line if i == len(self.functions) - 1 else None
            values = [(v, outer) for v in _assigned(function, name, before=before)]
            if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef) and name in _parameters(function):
                callers = self.arguments_at_call_sites(function, name)
                return None if callers is None else values + callers
            if values:
                return values
        values = _assigned(self.module, name, top_level=True)
        if not values:
            imported = _imported(self.module, name)
            if imported is not None:
                module, original = imported
                return Scope(module, []).assignments(original)
        return [(v, Scope(self.module, [])) for v in values] or None

    def arguments_at_call_sites(
        self, function: ast.FunctionDef | ast.AsyncFunctionDef, name: str
    ) -> list[tuple[ast.expr, Scope]] | None:
        """What the module's calls of ``function`` pass as parameter ``name`` (None: no call sites)."""
        positional = [p.arg for p in (*function.args.posonlyargs, *function.args.args)]
        out: list[tuple[ast.expr, Scope]] = []
        for call, chain in _calls_of(self.module, function.name):
            caller = Scope(self.module, chain)
            keyword = next((k.value for k in call.keywords if k.arg == name), None)
            if keyword is not None:
                out.append((keyword, caller))
            elif name in positional and positional.index(name) < len(call.args):
                out.append((call.args[positional.index(name)], caller))
            else:
                out.append((ast.Constant(None), caller))  # its default (a constant or None)
        return out or None

    def function(self, name: str) -> tuple[ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef, list[ast.AST]] | None:
        """A function (or class) of that name visible here, with the functions it is nested in."""
        for i in range(len(self.functions) - 1, -1, -1):
            for child in ast.walk(self.functions[i]):
                if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) and child.name == name:
                    return child, self.functions[: i + 1]
        for child in self.module.body:
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and child.name == name:
                return child, []
        return None


_MODULES: dict[str, ast.Module] = {}


def _imported(module: ast.Module, name: str) -> tuple[ast.Module, str] | None:
    """The project module a ``from package.module import name`` takes ``name`` from, parsed."""
    for node in module.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                if (alias.asname or alias.name) == name and node.module.split(".")[0] in (*PACKAGES, "domain"):
                    path = ROOT / (node.module.replace(".", "/") + ".py")
                    if not path.exists():
                        return None
                    if node.module not in _MODULES:
                        _MODULES[node.module] = ast.parse(path.read_text(encoding="utf-8"))
                    return _MODULES[node.module], alias.name
    return None


def _calls_of(module: ast.Module, name: str) -> Iterator[tuple[ast.Call, list[ast.AST]]]:
    def visit(node: ast.AST, stack: list[ast.AST]) -> Iterator[tuple[ast.Call, list[ast.AST]]]:
        if isinstance(node, FunctionNode):
            stack = [*stack, node]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name:
            yield node, stack
        for child in ast.iter_child_nodes(node):
            yield from visit(child, stack)

    yield from visit(module, [])


def _parameters(function: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> list[str]:
    a = function.args
    return [p.arg for p in (*a.posonlyargs, *a.args, *a.kwonlyargs, *(x for x in (a.vararg, a.kwarg) if x))]


def _names(target: ast.expr) -> set[str]:
    return {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}


def _assigned(node: ast.AST, name: str, top_level: bool = False, before: int | None = None) -> list[ast.expr]:
    """Every value ``name`` is given in ``node``: assignments, loop targets, ``name.append(value)``.

    With ``before``, only statements that start on or before that line (a name reused
    later for something else does not count).
    """
    values: list[ast.expr] = []
    nodes = node.body if top_level and isinstance(node, ast.Module) else list(_own_nodes(node))
    for child in nodes:
        if before is not None and getattr(child, "lineno", 0) > before:
            continue
        if isinstance(child, ast.Assign):
            for target in child.targets:
                if name in _names(target):
                    values.append(child.value)
        elif isinstance(child, ast.AnnAssign | ast.AugAssign) and child.value is not None:
            if name in _names(child.target):
                values.append(child.value)
        elif isinstance(child, ast.For) and name in _names(child.target):
            values.append(child.iter)  # an element of it
        elif (isinstance(child, ast.Call) and isinstance(child.func, ast.Attribute)
              and child.func.attr in ("append", "extend", "add", "insert", "update")
              and isinstance(child.func.value, ast.Name) and child.func.value.id == name):
            values.extend(child.args[-1:])
    return values


class Checker:
    def __init__(self, file: str, scope: Scope) -> None:
        self.file = file
        self.scope = scope
        self.offenders: list[str] = []
        self.used: set[tuple[str, str]] = set()
        self._resolving: set[tuple[int, str]] = set()
        self._depth = 0

    def check(self, expr: ast.expr) -> None:
        """Record every part of ``expr`` that is neither fixed text nor allowed."""
        self.offenders += self._offenders(expr, self.scope)

    def _allowed(self, key: str) -> bool:
        if (self.file, key) in ALLOWED:
            self.used.add((self.file, key))
            return True
        return False

    def _all(self, exprs: list[ast.expr], scope: Scope) -> list[str]:
        return [o for e in exprs for o in self._offenders(e, scope)]

    def _offenders(self, expr: ast.expr, scope: Scope) -> list[str]:
        """The smallest parts of ``expr`` that are not fixed text (empty: it is fixed text)."""
        if self._allowed(ast.unparse(expr)) or isinstance(expr, ast.Constant):
            return []
        if isinstance(expr, ast.JoinedStr):
            return self._all([v.value for v in expr.values if isinstance(v, ast.FormattedValue)], scope)
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add | ast.Mod):
            return self._all([expr.left, expr.right], scope)
        if isinstance(expr, ast.IfExp):
            return self._all([expr.body, expr.orelse], scope)
        if isinstance(expr, ast.BoolOp):
            return self._all(list(expr.values), scope)
        if isinstance(expr, ast.Tuple | ast.List | ast.Set):
            return self._all(list(expr.elts), scope)
        if isinstance(expr, ast.Dict):
            return self._all([v for v in expr.values if v is not None], scope)
        if isinstance(expr, ast.GeneratorExp | ast.ListComp | ast.SetComp):
            # The comprehension's own variables stand for elements of what they iterate.
            bindings = dict(scope.bindings)
            for generator in expr.generators:
                for name in _names(generator.target):
                    bindings[name] = (generator.iter, scope)
            inner = Scope(scope.module, scope.functions, bindings)
            return self._offenders(expr.elt, inner) + self._all([g.iter for g in expr.generators], scope)
        if isinstance(expr, ast.Subscript | ast.Starred | ast.Await):
            return self._offenders(expr.value, scope)  # any element of fixed text is fixed text
        if isinstance(expr, ast.Attribute):  # an attribute of fixed data is fixed
            return [ast.unparse(expr)] if self._offenders(expr.value, scope) else []
        if isinstance(expr, ast.Call):
            return self._call(expr, scope)
        if isinstance(expr, ast.Name):
            key = (id(scope.functions[-1]) if scope.functions else 0, expr.id)
            if key in self._resolving:
                return []
            values = scope.assignments(expr.id, expr.lineno)
            if values is None:
                return [expr.id]  # a parameter: whatever the caller passes
            self._resolving.add(key)
            try:
                return [o for v, where in values for o in self._offenders(v, where)]
            finally:
                self._resolving.discard(key)
        return [ast.unparse(expr)]

    def _call(self, call: ast.Call, scope: Scope) -> list[str]:
        func = call.func
        if isinstance(func, ast.Attribute) and func.attr == "param" and ast.unparse(func.value) == "sql":
            # projections/queries.py ``Sql.param``: the value becomes a ``$n`` bind parameter.
            return self._all(call.args[1:] + [k.value for k in call.keywords if k.arg == "cast"], scope)
        if isinstance(func, ast.Attribute) and func.attr in STR_METHODS:
            return self._all([func.value, *call.args], scope)
        if not isinstance(func, ast.Name):
            return [ast.unparse(call)]
        if func.id in PURE_BUILTINS:
            return self._all(list(call.args), scope)
        if self._allowed(f"call:{func.id}"):
            return []
        found = scope.function(func.id)
        if found is None or self._depth > 8:
            return [ast.unparse(call)]
        callee, parents = found
        if isinstance(callee, ast.ClassDef):  # a record built from its arguments
            return self._all([*call.args, *(k.value for k in call.keywords)], scope)
        bindings: dict[str, tuple[ast.expr, Scope]] = {}
        params = _parameters(callee)
        positional = [p.arg for p in (*callee.args.posonlyargs, *callee.args.args)]
        for name, arg in zip(positional, call.args, strict=False):
            bindings[name] = (arg, scope)
        for keyword in call.keywords:
            if keyword.arg in params:
                bindings[keyword.arg] = (keyword.value, scope)
        defaults = callee.args.defaults
        for name, default in zip(positional[len(positional) - len(defaults):], defaults, strict=True):
            bindings.setdefault(name, (default, Scope(scope.module, parents)))
        for p, default in zip(callee.args.kwonlyargs, callee.args.kw_defaults, strict=True):
            if default is not None:
                bindings.setdefault(p.arg, (default, Scope(scope.module, parents)))
        inner = Scope(scope.module, [*parents, callee], bindings)
        returns = [n.value for n in _own_nodes(callee) if isinstance(n, ast.Return) and n.value is not None]
        self._depth += 1
        try:
            return self._all(returns, inner)
        finally:
            self._depth -= 1


def _own_nodes(function: ast.AST) -> Iterator[ast.AST]:
    """The nodes of ``function``'s body, not of the functions nested in it."""
    for child in ast.iter_child_nodes(function):
        yield child
        if not isinstance(child, FunctionNode | ast.ClassDef):
            yield from _own_nodes(child)


STR_METHODS = frozenset({"join", "format", "strip", "split", "replace", "upper", "lower", "items", "values",
                         "keys", "get"})
PURE_BUILTINS = frozenset({"str", "tuple", "list", "sorted", "enumerate", "zip", "range", "len", "int", "dict"})


def _query_calls(tree: ast.Module) -> Iterator[tuple[ast.Call, list[ast.AST]]]:
    def visit(node: ast.AST, stack: list[ast.AST]) -> Iterator[tuple[ast.Call, list[ast.AST]]]:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            stack = [*stack, node]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in QUERY_METHODS:
            yield node, stack
        for child in ast.iter_child_nodes(node):
            yield from visit(child, stack)

    yield from visit(tree, [])


def _sql_argument(call: ast.Call) -> ast.expr | None:
    if call.args:
        return call.args[0]
    for keyword in call.keywords:
        if keyword.arg in ("query", "sql", "table_name"):
            return keyword.value
    return None


def scan() -> tuple[list[Finding], set[tuple[str, str]], int]:
    findings: list[Finding] = []
    used: set[tuple[str, str]] = set()
    calls = 0
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            file = path.relative_to(ROOT).as_posix()
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=file)
            for call, functions in _query_calls(tree):
                assert isinstance(call.func, ast.Attribute)
                if ast.unparse(call.func.value) in NOT_SQL_RECEIVERS:
                    continue
                sql = _sql_argument(call)
                if sql is None:
                    continue
                calls += 1
                checker = Checker(file, Scope(tree, functions))
                checker.check(sql)
                used |= checker.used
                findings += [Finding(file, call.lineno, call.func.attr, e) for e in dict.fromkeys(checker.offenders)]
    return findings, used, calls


def test_every_query_is_fixed_text_with_parameters() -> None:
    findings, _, calls = scan()
    assert calls > 50  # the scan does find the queries
    assert [str(f) for f in findings] == []


def test_every_allowed_expression_is_still_in_use() -> None:
    _, used, _ = scan()
    assert set(ALLOWED) - used == set()


def test_the_scan_catches_interpolated_input() -> None:
    source = '''
COLUMNS = {"kind": "kind", "region": "seller_region"}

async def good(conn, group_by, value):
    column = COLUMNS[group_by]
    where = "" if value is None else " WHERE x = $1"
    await conn.fetch(f"SELECT {column} FROM t{where}", value)
    await conn.fetch("SELECT 1 FROM t WHERE a = $1", value)

async def bad(conn, name, value):
    await conn.execute(f"SELECT * FROM t WHERE name = '{name}'")
    await conn.fetch("SELECT * FROM t WHERE id = " + str(value))
    await conn.fetch("SELECT %s" % value)
    await conn.fetchval("SELECT {}".format(name))
    query = "SELECT * FROM " + name
    await conn.fetchrow(query)
'''
    tree = ast.parse(source)
    found = []
    for call, functions in _query_calls(tree):
        sql = _sql_argument(call)
        assert sql is not None
        checker = Checker("example.py", Scope(tree, functions))
        checker.check(sql)
        found.append((getattr(functions[-1], "name", ""), checker.offenders))
    assert found == [
        ("good", []), ("good", []),
        ("bad", ["name"]), ("bad", ["value"]), ("bad", ["value"]), ("bad", ["name"]), ("bad", ["name"]),
    ]
