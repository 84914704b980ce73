"""$filter (and $orderby expressions) compiled to parameterised SQL over an entity set's SELECT.

The OData subset SensorThings uses: comparison (eq ne gt ge lt le), logical (and or not), arithmetic (add sub
mul div mod), string functions (substringof contains startswith endswith indexof length substring tolower
toupper trim concat), date functions (year month day hour minute second fractionalseconds date time now
mindatetime maxdatetime totaloffsetminutes), maths (round floor ceiling), and geospatial functions
(geo.intersects geo.distance geo.length st_within st_intersects st_contains st_disjoint st_equals st_touches
st_overlaps st_crosses st_relate) with WKT literals such as geography'POINT(121.3 25.0)'. Paths reach
properties (`name`), JSON members (`properties/city`) and to-one navigation (`Datastream/Thing/name`).

Only property names of the set are turned into SQL identifiers; every value travels as a query parameter.
Each expression has a type, checked where SensorThings would fail at run time: a malformed filter, an unknown
property or a comparison of a time with a number is a 400 naming it, never a database error.
"""

import re
from dataclasses import dataclass
from datetime import datetime

from django.contrib.gis.geos import GEOSException, GEOSGeometry
from psycopg2 import sql

from .entities import SETS, EntitySet
from .errors import BadRequest

TOKEN = re.compile(r"""\s*(?:
    (?P<geo>(?:geography|geometry)'[^']*')
  | (?P<string>'(?:[^']|'')*')
  | (?P<time>\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:\d\d)?)
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_@$][\w.@$]*(?:/[A-Za-z_@$][\w.@$]*)*)
  | (?P<punct>[(),])
)""", re.VERBOSE)

COMPARISON = {"eq": "=", "ne": "<>", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}
ARITHMETIC = {"add": "+", "sub": "-", "mul": "*", "div": "/", "mod": "%%"}  # %% : psycopg2's escape of %
KEYWORDS = {"and", "or", "not", "true", "false", "null", *COMPARISON, *ARITHMETIC}

# name → (argument types, result type, SQL template with {0}, {1} … for the arguments)
FUNCTIONS = {
    "substringof": (("string", "string"), "bool", "(strpos({1}, {0}) > 0)"),
    "contains": (("string", "string"), "bool", "(strpos({0}, {1}) > 0)"),
    "startswith": (("string", "string"), "bool", "starts_with({0}, {1})"),
    "endswith": (("string", "string"), "bool", "(right({0}, char_length({1})) = {1})"),
    "indexof": (("string", "string"), "number", "(strpos({0}, {1}) - 1)"),
    "length": (("string",), "number", "char_length({0})"),
    "substring": (("string", "number"), "string", "substr({0}, ({1})::int + 1)"),
    "tolower": (("string",), "string", "lower({0})"),
    "toupper": (("string",), "string", "upper({0})"),
    "trim": (("string",), "string", "btrim({0})"),
    "concat": (("string", "string"), "string", "({0} || {1})"),
    "year": (("time",), "number", "extract(year FROM {0} AT TIME ZONE 'UTC')"),
    "month": (("time",), "number", "extract(month FROM {0} AT TIME ZONE 'UTC')"),
    "day": (("time",), "number", "extract(day FROM {0} AT TIME ZONE 'UTC')"),
    "hour": (("time",), "number", "extract(hour FROM {0} AT TIME ZONE 'UTC')"),
    "minute": (("time",), "number", "extract(minute FROM {0} AT TIME ZONE 'UTC')"),
    "second": (("time",), "number", "floor(extract(second FROM {0} AT TIME ZONE 'UTC'))"),
    "fractionalseconds": (("time",), "number",
                          "(extract(second FROM {0} AT TIME ZONE 'UTC') - floor(extract(second FROM {0})))"),
    "date": (("time",), "string", "to_char({0} AT TIME ZONE 'UTC', 'YYYY-MM-DD')"),
    "time": (("time",), "string", "to_char({0} AT TIME ZONE 'UTC', 'HH24:MI:SS')"),
    "totaloffsetminutes": (("time",), "number", "0"),
    "now": ((), "time", "now()"),
    "mindatetime": ((), "time", "'-infinity'::timestamptz"),
    "maxdatetime": ((), "time", "'infinity'::timestamptz"),
    "round": (("number",), "number", "round(({0})::numeric)"),
    "floor": (("number",), "number", "floor({0})"),
    "ceiling": (("number",), "number", "ceiling({0})"),
    "geo.intersects": (("geom", "geom"), "bool", "ST_Intersects({0}, {1})"),
    "geo.distance": (("geom", "geom"), "number", "ST_Distance(({0})::geography, ({1})::geography)"),
    "geo.length": (("geom",), "number", "ST_Length(({0})::geography)"),
    "st_within": (("geom", "geom"), "bool", "ST_Within({0}, {1})"),
    "st_intersects": (("geom", "geom"), "bool", "ST_Intersects({0}, {1})"),
    "st_contains": (("geom", "geom"), "bool", "ST_Contains({0}, {1})"),
    "st_disjoint": (("geom", "geom"), "bool", "ST_Disjoint({0}, {1})"),
    "st_equals": (("geom", "geom"), "bool", "ST_Equals({0}, {1})"),
    "st_touches": (("geom", "geom"), "bool", "ST_Touches({0}, {1})"),
    "st_overlaps": (("geom", "geom"), "bool", "ST_Overlaps({0}, {1})"),
    "st_crosses": (("geom", "geom"), "bool", "ST_Crosses({0}, {1})"),
    "st_relate": (("geom", "geom", "string"), "bool", "ST_Relate({0}, {1}, {2})"),
}


S = sql.SQL


@dataclass
class Expr:
    sql: sql.Composable
    params: list
    type: str  # number string time bool geom json null
    literal: object = None  # the Python value of a string literal (a time given as a string is parsed late)
    is_literal: bool = False


def tokens(text: str, what: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise BadRequest(f"{what}: cannot read {text[pos:pos + 20].strip()!r} (at character {pos + 1})")
        kind = m.lastgroup
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def parse_time(text: str, what: str) -> datetime:
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"{what}: {text!r} is not an ISO 8601 time (e.g. 2026-11-01T08:00:00Z)") from None
    if stamp.tzinfo is None:
        raise BadRequest(f"{what}: {text!r} has no time zone (add Z or +08:00)")
    return stamp


class Compiler:
    """A recursive-descent parser that emits SQL as it goes, over the entity set `es` aliased `alias`."""

    def __init__(self, text: str, es: EntitySet, alias: str, layers: list[int], what: str = "$filter"):
        self.text, self.what, self.es, self.alias, self.layers = text, what, es, alias, layers
        self.toks = tokens(text, what)
        self.pos = 0
        self.aliases = 0

    # -- token helpers ----------------------------------------------------------------------------------------
    def peek(self, offset=0):
        i = self.pos + offset
        return self.toks[i] if i < len(self.toks) else (None, None)

    def take(self):
        tok = self.peek()
        self.pos += 1
        return tok

    def word(self) -> str | None:
        kind, value = self.peek()
        return value if kind == "name" and value in KEYWORDS else None

    def expect(self, punct: str):
        kind, value = self.take()
        if (kind, value) != ("punct", punct):
            raise BadRequest(f"{self.what}: expected {punct!r} but found {value or 'the end'!r} in {self.text!r}")

    def fail(self, message: str):
        raise BadRequest(f"{self.what}: {message} in {self.text!r}")

    # -- grammar ----------------------------------------------------------------------------------------------
    def boolean(self) -> Expr:
        expr = self.or_()
        if self.pos != len(self.toks):
            self.fail(f"unexpected {self.peek()[1]!r}")
        if expr.type != "bool":
            self.fail("the filter is not a condition (true or false)")
        return expr

    def expression(self) -> Expr:
        expr = self.or_()
        if self.pos != len(self.toks):
            self.fail(f"unexpected {self.peek()[1]!r}")
        return expr

    def or_(self) -> Expr:
        left = self.and_()
        while self.word() == "or":
            self.take()
            left = self.logical(left, "OR", self.and_())
        return left

    def and_(self) -> Expr:
        left = self.not_()
        while self.word() == "and":
            self.take()
            left = self.logical(left, "AND", self.not_())
        return left

    def logical(self, left: Expr, op: str, right: Expr) -> Expr:
        if left.type != "bool" or right.type != "bool":
            self.fail(f"'{op.lower()}' joins conditions")
        return Expr(S("({} " + op + " {})").format(left.sql, right.sql), left.params + right.params, "bool")

    def not_(self) -> Expr:
        if self.word() == "not":
            self.take()
            inner = self.not_()
            if inner.type != "bool":
                self.fail("'not' takes a condition")
            return Expr(S("(NOT {})").format(inner.sql), inner.params, "bool")
        return self.comparison()

    def comparison(self) -> Expr:
        left = self.additive()
        word = self.word()
        if word in COMPARISON:
            self.take()
            return self.compare(left, word, self.additive())
        return left

    def additive(self) -> Expr:
        left = self.multiplicative()
        while self.word() in ("add", "sub"):
            left = self.arithmetic(left, self.take()[1], self.multiplicative())
        return left

    def multiplicative(self) -> Expr:
        left = self.primary()
        while self.word() in ("mul", "div", "mod"):
            left = self.arithmetic(left, self.take()[1], self.primary())
        return left

    def arithmetic(self, left: Expr, word: str, right: Expr) -> Expr:
        left, right = self.as_number(left, word), self.as_number(right, word)
        op = ARITHMETIC[word]
        if word in ("div", "mod"):  # division by zero is NULL (no row matches), not a database error
            right = Expr(S("nullif({}, 0)").format(right.sql), right.params, "number")
        cast = "::numeric" if word == "mod" else "::float8"
        return Expr(S("(({})" + cast + " " + op + " ({})" + cast + ")").format(left.sql, right.sql),
                    left.params + right.params, "number")

    def primary(self) -> Expr:
        kind, value = self.take()
        if kind is None:
            self.fail("the expression ends too early")
        if kind == "punct" and value == "(":
            inner = self.or_()
            self.expect(")")
            return inner
        if kind == "string":
            text = value[1:-1].replace("''", "'")
            return Expr(S("%s::text"), [text], "string", literal=text, is_literal=True)
        if kind == "number":
            number = float(value) if any(c in value for c in ".eE") else int(value)
            return Expr(S("%s"), [number], "number", is_literal=True)
        if kind == "time":
            return Expr(S("%s::timestamptz"), [parse_time(value, self.what)], "time", is_literal=True)
        if kind == "geo":
            return self.geometry(value)
        if kind == "name":
            if value in ("true", "false"):
                return Expr(S("TRUE" if value == "true" else "FALSE"), [], "bool", is_literal=True)
            if value == "null":
                return Expr(S("NULL"), [], "null", is_literal=True)
            if value in KEYWORDS:
                self.fail(f"{value!r} needs something on its left")
            if self.peek() == ("punct", "("):
                return self.function(value)
            return self.path(value)
        self.fail(f"unexpected {value!r}")

    def geometry(self, value: str) -> Expr:
        wkt = value[value.index("'") + 1:-1]
        try:
            geom = GEOSGeometry(wkt, srid=4326)
        except (GEOSException, ValueError, TypeError):
            self.fail(f"{wkt!r} is not WKT (e.g. geography'POINT(121.3 25.0)')")
        if not geom.valid:
            self.fail(f"{wkt!r} is not a valid geometry ({geom.valid_reason})")
        return Expr(S("ST_GeomFromEWKT(%s)"), [geom.ewkt], "geom", is_literal=True)

    def function(self, name: str) -> Expr:
        self.expect("(")
        args = []
        if self.peek() != ("punct", ")"):
            args.append(self.or_())
            while self.peek() == ("punct", ","):
                self.take()
                args.append(self.or_())
        self.expect(")")
        spec = FUNCTIONS.get(name.lower())
        if spec is None:
            self.fail(f"unknown function {name!r}")
        wanted, result, template = spec
        if name.lower() == "substring" and len(args) == 3:
            wanted, template = ("string", "number", "number"), "substr({0}, ({1})::int + 1, ({2})::int)"
        if len(args) != len(wanted):
            self.fail(f"{name}() takes {len(wanted)} argument{'s' if len(wanted) != 1 else ''}")
        if name.lower() == "st_relate" and not (args[2].is_literal and isinstance(args[2].literal, str)
                                                and re.fullmatch(r"[TF012*]{9}", args[2].literal)):
            self.fail("st_relate() takes a DE-9IM pattern of nine of T F 0 1 2 * as its third argument, "
                      "e.g. 'T*F**F***'")
        sqls, params = [], []
        for i, (arg, kind) in enumerate(zip(args, wanted, strict=True)):
            arg = self.coerce(arg, kind, f"argument {i + 1} of {name}()")
            sqls.append(arg.sql)
            params.append(arg.params)
        # a template may use an argument twice (endswith): its parameters then go in twice, in template order
        ordered = []
        for index in re.findall(r"\{(\d)\}", template):
            ordered += params[int(index)]
        return Expr(S(template).format(*sqls), ordered, result)

    def coerce(self, arg: Expr, kind: str, what: str) -> Expr:
        if arg.type == kind or arg.type == "null":
            return arg
        if kind == "string" and arg.type == "json":
            return Expr(S("({} #>> '{{}}')").format(arg.sql), arg.params, "string")
        if kind == "number" and arg.type == "json":
            return self.as_number(arg, what)
        if kind == "time" and arg.type == "string" and arg.is_literal:
            return Expr(S("%s::timestamptz"), [parse_time(arg.literal, self.what)], "time", is_literal=True)
        self.fail(f"{what} must be a {'geometry' if kind == 'geom' else kind}, not a {arg.type}")

    def as_number(self, arg: Expr, what: str) -> Expr:
        if arg.type == "number":
            return arg
        if arg.type == "json":  # a JSON member that is not a number counts as null
            return Expr(S("(CASE WHEN jsonb_typeof({0}) = 'number' THEN ({0} #>> '{{}}')::float8 END)")
                        .format(arg.sql), arg.params * 2, "number")
        self.fail(f"{what} needs numbers, not a {arg.type}")

    def compare(self, left: Expr, word: str, right: Expr) -> Expr:
        op = COMPARISON[word]
        if right.type == "null" or left.type == "null":
            other = left if right.type == "null" else right
            if word not in ("eq", "ne"):
                self.fail(f"'{word}' cannot compare with null")
            return Expr(S("({} IS " + ("NOT " if word == "ne" else "") + "NULL)").format(other.sql), other.params,
                        "bool")
        if left.type == "json" or right.type == "json":
            json_side, other = (left, right) if left.type == "json" else (right, left)
            if other.type == "json":
                value = other
            elif other.type in ("number", "string", "bool"):
                value = Expr(S("to_jsonb({})").format(other.sql), other.params, "json")
            else:
                self.fail(f"a JSON member cannot be compared with a {other.type}")
            a, b = (json_side, value) if left.type == "json" else (value, json_side)
            return Expr(S("({} " + op + " {})").format(a.sql, b.sql), a.params + b.params, "bool")
        if left.type == "time" and right.type == "string":
            right = self.coerce(right, "time", f"the value compared with a time by '{word}'")
        elif right.type == "time" and left.type == "string":
            left = self.coerce(left, "time", f"the value compared with a time by '{word}'")
        if left.type != right.type or left.type == "geom":
            self.fail(f"'{word}' cannot compare a {left.type} with a {right.type}")
        return Expr(S("({} " + op + " {})").format(left.sql, right.sql), left.params + right.params, "bool")

    def path(self, value: str) -> Expr:
        return self.resolve(self.es, self.alias, value.split("/"), value)

    def resolve(self, es: EntitySet, alias: str, parts: list[str], whole: str) -> Expr:
        head, rest = parts[0], parts[1:]
        if head in ("@iot.id", "id"):
            head = "id"
        if head in es.props:
            kind = es.props[head]
            if kind == "json":
                if rest:
                    return Expr(S("({} #> %s)").format(sql.Identifier(alias, head)), [rest], "json")
                return Expr(sql.Identifier(alias, head), [], "json")
            if rest:
                self.fail(f"{es.singular} property {head!r} has no members ({whole!r})")
            if kind == "geom":
                return Expr(sql.Identifier(alias, es.geometry[head]), [], "geom")
            return Expr(sql.Identifier(alias, head), [], kind)
        nav = es.navs.get(head)
        if nav is None:
            self.fail(f"{es.singular} has no property {head!r}")
        if nav.many:
            self.fail(f"{whole!r} goes through {head}, of which a {es.singular} has many; filter from that side")
        if not rest:
            self.fail(f"{whole!r} names the {head} itself: name one of its properties")
        if rest in (["id"], ["@iot.id"]) and nav.remote == "id":
            # `Datastream/@iot.id eq 5` is this row's own key column: an index condition, not a subquery per row
            # (a to-one target is visible whenever its source row is: same device, or shared by it)
            return Expr(sql.Identifier(alias, nav.local), [], "number")
        target = SETS[nav.target]
        self.aliases += 1
        inner = f"{alias}_{self.aliases}"
        base_sql, base_params = target.base(self.layers)
        value = self.resolve(target, inner, rest, whole)
        query = S("(SELECT {} FROM ({}) {} WHERE {} = {} LIMIT 1)").format(
            value.sql, base_sql, sql.Identifier(inner), sql.Identifier(inner, nav.remote),
            sql.Identifier(alias, nav.local))
        return Expr(query, value.params + base_params, value.type)


def compile_filter(text: str, es: EntitySet, alias: str, layers: list[int]) -> Expr:
    return Compiler(text, es, alias, layers).boolean()


def compile_order(text: str, es: EntitySet, alias: str, layers: list[int]) -> Expr:
    expr = Compiler(text, es, alias, layers, "$orderby").expression()
    if expr.type == "geom":
        raise BadRequest(f"$orderby: cannot order by a geometry ({text!r})")
    return expr
