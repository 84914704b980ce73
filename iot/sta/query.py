"""Reading: a resource path (`Things(1)/Datastreams`) and the query options ($filter $expand $select $orderby
$top $skip $count) turned into SQL, run, and written out as SensorThings JSON with @iot.id, @iot.selfLink,
navigation links, @iot.count and @iot.nextLink."""

import json
import re
import urllib.parse
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection
from psycopg2 import sql

from .entities import SETS, EntitySet, entity_set, observation_id
from .errors import BadRequest, NotFound
from .filter import compile_filter, compile_order

DEFAULT_TOP = 100
MAX_TOP = 1000
MAX_EXPAND_DEPTH = 4
SEGMENT = re.compile(r"^(?P<name>[A-Za-z$]+)(?:\((?P<key>[^()]*)\))?$")
OPTIONS = ("$filter", "$expand", "$select", "$orderby", "$top", "$skip", "$count", "$resultFormat")


@dataclass
class Restriction:
    """A condition on an entity set's rows: `build(alias)` writes it for the alias the rows go by."""

    build: object = None  # alias → sql.Composable
    params: list = field(default_factory=list)

    def on(self, alias: str) -> sql.Composable:
        return self.build(alias) if self.build else sql.SQL("TRUE")

    @staticmethod
    def key(es: EntitySet, key) -> "Restriction":
        return Restriction(lambda a: es.key_condition(a, key)[0], es.key_condition("e", key)[1])

    @staticmethod
    def equals(column: str, value) -> "Restriction":
        return Restriction(lambda a: sql.SQL("{} = %s").format(sql.Identifier(a, column)), [value])

    def also(self, other: "Restriction") -> "Restriction":
        return Restriction(lambda a: sql.SQL("{} AND {}").format(self.on(a), other.on(a)), self.params + other.params)


@dataclass
class Resource:
    es: EntitySet
    where: Restriction
    single: bool
    tail: str | None = None  # a property name, "$value" (after a property) or "$ref"
    value: bool = False
    path: str = ""  # as given, for links
    ancestors: list = field(default_factory=list)  # (set, restriction) of each entity the path goes through
    key: object = None  # the @iot.id the path's last segment gave


def parse_key(text: str):
    text = text.strip()
    if text.startswith("'") and text.endswith("'") and len(text) >= 2:
        return text[1:-1].replace("''", "'")
    try:
        return int(text)
    except ValueError:
        raise BadRequest(f"{text!r} is not an id: give a number or a quoted string") from None


def resolve(path: str, layers: list[int]) -> Resource:
    segments = [s for s in path.strip("/").split("/") if s]
    first = SEGMENT.match(segments[0])
    if not first:
        raise NotFound(f"no entity set {segments[0]!r}")
    es = entity_set(first["name"])
    where, single = Restriction(), False
    key = parse_key(first["key"]) if first["key"] is not None else None
    if key is not None:
        where, single = Restriction.key(es, key), True
    resource = Resource(es, where, single, path=path.strip("/"), key=key)
    for depth, segment in enumerate(segments[1:], start=1):
        if resource.tail is not None:
            if segment == "$value" and resource.tail not in ("$ref",) and not resource.value:
                resource.value = True
                continue
            raise BadRequest(f"nothing follows {resource.tail!r} in a path ({path!r})")
        m = SEGMENT.match(segment)
        if not m:
            raise BadRequest(f"{segment!r} is not a path segment")
        name = m["name"]
        if name == "$ref" or (name in resource.es.props and m["key"] is None):
            if not resource.single and name != "$ref":
                raise BadRequest(f"{path!r}: a property is read from one {resource.es.singular}; give its id")
            resource.tail = name
            continue
        nav = resource.es.navs.get(name)
        if nav is None:
            raise NotFound(f"{resource.es.singular} has no property or navigation {name!r}")
        if not resource.single:
            raise BadRequest(f"{path!r}: give one {resource.es.singular}'s id before /{name}")
        parent, alias = resource.es, f"p{depth}"
        base_sql, base_params = parent.base(layers)
        target = SETS[nav.target]
        parent_where = resource.where
        where = Restriction(lambda a, nav=nav, alias=alias, base_sql=base_sql, parent_where=parent_where: sql.SQL(
            "{} IN (SELECT {} FROM ({}) {} WHERE {})").format(
            sql.Identifier(a, nav.remote), sql.Identifier(alias, nav.local), base_sql, sql.Identifier(alias),
            parent_where.on(alias)), base_params + parent_where.params)
        if parent.name == "Datastreams" and name == "Observations" and resource.key is not None:
            where = where.also(readings_of(*datastream_pair(resource.key)))
        single = not nav.many
        if m["key"] is not None:
            if not nav.many:
                raise BadRequest(f"{name} is a single {target.singular}: no id after it")
            where = where.also(Restriction.key(target, parse_key(m["key"])))
            single = True
        resource = Resource(target, where, single, path=resource.path,
                            ancestors=[*resource.ancestors, (resource.es, resource.where)],
                            key=parse_key(m["key"]) if m["key"] is not None else None)
    return resource


def readings_of(device: int, quantity: int) -> Restriction:
    """A Datastream's observations by the columns of the observations' primary key: with them as constants
    PostgreSQL walks the key (newest first for `$orderby=phenomenonTime desc&$top=1`) instead of sorting all of
    the stream's readings."""
    return Restriction.equals("_featureOfInterest", device).also(Restriction.equals("_quantity", quantity))


def datastream_pair(key) -> tuple[int, int]:
    with connection.cursor() as cur:
        cur.execute("SELECT device_id, quantity_id FROM iot_datastream WHERE id = %s",
                    [key if isinstance(key, int) else -1])
        found = cur.fetchone()
    return found or (-1, -1)  # no such Datastream: no observations (the path answers 404 before)


# ---------------------------------------------------------------------------------------------------------------
# query options
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class Options:
    filter: str | None = None
    orderby: str | None = None
    top: int = DEFAULT_TOP
    skip: int = 0
    count: bool = False
    select: list[str] | None = None
    expand: dict[str, "Options"] = field(default_factory=dict)
    data_array: bool = False


def split_top(text: str, sep: str) -> list[str]:
    """Split on `sep` outside parentheses and quotes."""
    parts, depth, quoted, current = [], 0, False, []
    for ch in text:
        if ch == "'":
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
            if depth < 0:
                raise BadRequest(f"unbalanced parentheses in {text!r}")
        if ch == sep and depth == 0 and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    if depth or quoted:
        raise BadRequest(f"unbalanced {'quotes' if quoted else 'parentheses'} in {text!r}")
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def parse_options(params: dict[str, str], es: EntitySet, depth: int = 0) -> Options:
    unknown = [k for k in params if k.startswith("$") and k not in OPTIONS]
    if unknown:
        raise BadRequest(f"unknown query option {unknown[0]!r}; the options are {', '.join(OPTIONS)}")
    opts = Options(filter=params.get("$filter") or None, orderby=params.get("$orderby") or None)
    for name, attr, limit in (("$top", "top", MAX_TOP), ("$skip", "skip", None)):
        if name in params:
            try:
                value = int(params[name])
            except ValueError:
                raise BadRequest(f"{name}: give a whole number, not {params[name]!r}") from None
            if value < 0:
                raise BadRequest(f"{name}: give a number of 0 or more")
            setattr(opts, attr, min(value, limit) if limit else value)
    if "$count" in params:
        if params["$count"] not in ("true", "false"):
            raise BadRequest(f"$count: give true or false, not {params['$count']!r}")
        opts.count = params["$count"] == "true"
    if "$resultFormat" in params:
        if params["$resultFormat"] != "dataArray":
            raise BadRequest(f"$resultFormat: only dataArray is offered, not {params['$resultFormat']!r}")
        if es.name != "Observations":
            raise BadRequest("$resultFormat=dataArray is for Observations")
        opts.data_array = True
    if params.get("$select"):
        opts.select = []
        for name in split_top(params["$select"], ","):
            name = "id" if name == "@iot.id" else name
            if name not in es.props and name not in es.navs:
                raise BadRequest(f"$select: {es.singular} has no property {name!r}")
            opts.select.append(name)
    if params.get("$expand"):
        if depth >= MAX_EXPAND_DEPTH:
            raise BadRequest(f"$expand: at most {MAX_EXPAND_DEPTH} levels deep")
        for item in split_top(params["$expand"], ","):
            add_expand(opts, es, item, depth)
    return opts


def add_expand(opts: Options, es: EntitySet, item: str, depth: int) -> None:
    """`Datastreams($top=1;$expand=Observations)` or `Datastreams/Observations` (an expand inside an expand)."""
    head, inner = item, ""
    paren = item.find("(")
    slash = item.find("/")
    if slash != -1 and (paren == -1 or slash < paren):
        head, rest = item[:slash], item[slash + 1:]
        nav = nav_of(es, head)
        child = opts.expand.setdefault(head, Options())
        add_expand(child, SETS[nav.target], rest, depth + 1)
        return
    if paren != -1:
        if not item.endswith(")"):
            raise BadRequest(f"$expand: {item!r} has text after its options")
        head, inner = item[:paren], item[paren + 1:-1]
    nav = nav_of(es, head.strip())
    params = {}
    for option in split_top(inner, ";"):
        if "=" not in option:
            raise BadRequest(f"$expand: {option!r} in {head} is not an option=value")
        key, value = option.split("=", 1)
        params[key.strip()] = value.strip()
    nested = parse_options(params, SETS[nav.target], depth + 1)
    if head.strip() in opts.expand:  # `A/B,A($top=1)`: keep both the nested expand and the options
        nested.expand = {**opts.expand[head.strip()].expand, **nested.expand}
    opts.expand[head.strip()] = nested


def nav_of(es: EntitySet, name: str):
    nav = es.navs.get(name)
    if nav is None:
        raise BadRequest(f"$expand: {es.singular} has no navigation property {name!r}; it has "
                         f"{', '.join(es.navs)}")
    return nav


# ---------------------------------------------------------------------------------------------------------------
# running
# ---------------------------------------------------------------------------------------------------------------
class Reader:
    def __init__(self, root: str, layers: list[int]):
        self.root, self.layers = root, layers

    def columns(self, es: EntitySet) -> sql.Composable:
        names = list(es.props) + [n.local for n in es.navs.values() if n.local.startswith("_")]
        names += [k for k in es.order_key if k not in names]
        return sql.SQL(", ").join(sql.Identifier("e", n) for n in dict.fromkeys(names))

    def where(self, es: EntitySet, restriction: Restriction, opts: Options) -> tuple[sql.Composable, list]:
        where, params = restriction.on("e"), list(restriction.params)
        if opts.filter:
            expr = compile_filter(opts.filter, es, "e", self.layers)
            where, params = sql.SQL("{} AND {}").format(where, expr.sql), params + expr.params
        return where, params

    def rows(self, es: EntitySet, restriction: Restriction, opts: Options, limit: int | None = None,
             offset: int = 0) -> list[dict]:
        base_sql, base_params = es.base(self.layers)
        where_sql, where_params = self.where(es, restriction, opts)
        order, order_params = [], []
        if opts.orderby:
            for item in split_top(opts.orderby, ","):
                words = item.rsplit(None, 1)
                direction = "ASC"
                if len(words) == 2 and words[1].lower() in ("asc", "desc"):
                    item, direction = words[0], words[1].upper()
                expr = compile_order(item, es, "e", self.layers)
                # PostgreSQL's own null order (last ascending, first descending): what an index scan yields
                order.append(sql.SQL("{} " + direction).format(expr.sql))
                order_params += expr.params
        order += [sql.Identifier("e", k) for k in es.order_key]  # a stable order: paging neither skips nor repeats
        query = sql.SQL("SELECT {} FROM ({}) e WHERE {} ORDER BY {} LIMIT %s OFFSET %s").format(
            self.columns(es), base_sql, where_sql, sql.SQL(", ").join(order))  # LIMIT NULL: all
        params = base_params + where_params + order_params + [limit, offset]
        with connection.cursor() as cur:
            cur.execute(query, params)
            names = [c.name for c in cur.description]
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def count(self, es: EntitySet, restriction: Restriction, opts: Options) -> int:
        base_sql, base_params = es.base(self.layers)
        where_sql, where_params = self.where(es, restriction, opts)
        with connection.cursor() as cur:
            cur.execute(sql.SQL("SELECT count(*) FROM ({}) e WHERE {}").format(base_sql, where_sql),
                        base_params + where_params)
            return cur.fetchone()[0]

    def collection(self, es: EntitySet, restriction: Restriction, opts: Options, link: str) -> dict:
        rows = self.rows(es, restriction, opts, opts.top + 1, opts.skip)
        out = {}
        if opts.count:
            out["@iot.count"] = self.count(es, restriction, opts)
        if len(rows) > opts.top:
            rows = rows[:opts.top]
            if opts.top:
                out["@iot.nextLink"] = next_link(link, opts.skip + opts.top)
        if opts.data_array:
            out["value"] = data_array(es, rows, opts, self)
        else:
            out["value"] = [self.entity(es, r, opts) for r in rows]
        return out

    def one(self, es: EntitySet, restriction: Restriction, opts: Options) -> dict:
        rows = self.rows(es, restriction, Options(), 1)
        if not rows:
            raise NotFound(f"no such {es.singular}")
        return self.entity(es, rows[0], opts)

    def self_link(self, es: EntitySet, ident) -> str:
        key = f"'{ident}'" if isinstance(ident, str) else ident
        return f"{self.root}/{es.name}({key})"

    def entity(self, es: EntitySet, row: dict, opts: Options) -> dict:
        link = self.self_link(es, row["id"])
        selected = opts.select
        out = {}
        if selected is None or "id" in selected:
            out["@iot.id"] = row["id"]
        if selected is None:
            out["@iot.selfLink"] = link
        for name, kind in es.props.items():
            if name != "id" and (selected is None or name in selected):
                value = row[name]
                # Django leaves jsonb as text (its JSONField decodes it); geometries go out as GeoJSON jsonb
                out[name] = json.loads(value) if kind in ("json", "geom") and isinstance(value, str) else \
                    jsonable(value)
        for name, nav in es.navs.items():
            if name in opts.expand:
                out[name] = self.expanded(nav, row, opts.expand[name], f"{link}/{name}", out, name)
            elif selected is None or name in selected:
                out[f"{name}@iot.navigationLink"] = f"{link}/{name}"
        return out

    def expanded(self, nav, row: dict, opts: Options, link: str, out: dict, name: str):
        target = SETS[nav.target]
        value = row[nav.local]
        if value is None:
            return [] if nav.many else None
        restriction = Restriction.equals(nav.remote, value)
        if target.name == "Observations" and nav.remote == "_datastream":
            restriction = restriction.also(readings_of(row["_thing"], row["_observedProperty"]))
        if not nav.many:
            rows = self.rows(target, restriction, Options(), 1)
            return self.entity(target, rows[0], opts) if rows else None
        page = self.collection(target, restriction, opts, link + "?" + urllib.parse.urlencode(
            {k: v for k, v in option_params(opts).items()}))
        if "@iot.count" in page:
            out[f"{name}@iot.count"] = page["@iot.count"]
        if "@iot.nextLink" in page:
            out[f"{name}@iot.nextLink"] = page["@iot.nextLink"]
        return page["value"]


def option_params(opts: Options) -> dict:
    params = {}
    if opts.filter:
        params["$filter"] = opts.filter
    if opts.orderby:
        params["$orderby"] = opts.orderby
    if opts.select:
        params["$select"] = ",".join(opts.select)
    if opts.count:
        params["$count"] = "true"
    params["$top"] = str(opts.top)
    return params


def next_link(link: str, skip: int) -> str:
    parts = urllib.parse.urlsplit(link)
    query = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True) if k != "$skip"]
    query.append(("$skip", str(skip)))
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query, safe="$(),'/")))


def data_array(es: EntitySet, rows: list[dict], opts: Options, reader: Reader) -> list[dict]:
    """Observations grouped per Datastream, each row a list of the selected components (the dataArray format)."""
    components = opts.select or ["id", "phenomenonTime", "result"]
    groups: dict[int, list] = {}
    for r in rows:
        groups.setdefault(r["_datastream"], []).append([jsonable(r[c]) for c in components])
    return [{"Datastream@iot.navigationLink": reader.self_link(SETS["Datastreams"], ds),
             "components": components, "dataArray@iot.count": len(values), "dataArray": values}
            for ds, values in groups.items()]


def jsonable(value):
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return value


__all__ = ["Reader", "Resource", "Options", "parse_options", "resolve", "observation_id"]
