"""The SQL of the view pycsw reads (catalogue/migrations/0001_csw_records_view.py, 0002_stored_anytext.py). A change
here needs a new migration that drops and recreates the view.

Its `anytext` (what CSW's csw:AnyText and OGC API - Records' `q` search) was built per row of every query, over the
layer, its agency and its theme (~55 ms of an 80 ms AnyText search at 5,000 layers: an expression index cannot
reach into a view with joins). Since 0002 it is a column of catalogue_record_text, one row per layer written by
triggers — on the layer's insert or update, and on a rename of an agency or a theme — and searched through a
trigram index (pg_trgm: `like '%…%'` and `ilike` on any substring, Chinese included).
"""

VIEW = "catalogue_csw_records"

_NULLS = ("edition keywordstype themes parentidentifier relation contributor securityconstraints date_publication "
          "geodescode servicetype servicetypeversion operation couplingtype operateson operatesonidentifier "
          "operatesoname degree classification conditionapplyingtoaccessanduse responsiblepartyrole "
          "specificationtitle specificationdate specificationdatetype platform instrument sensortype cloudcover "
          "bands links contacts xml metadata").split()

ANYTEXT = """concat_ws(' ', l.slug, l.title_zh, l.title_en, l.abstract, array_to_string(l.keywords, ' '),
              l.lineage, l.source, l.license, l.contact_organisation, g.name, t.name_zh, t.name_en, l.topic_category)"""

_VIEW = """
CREATE VIEW {view} AS
SELECT
    l.slug::text AS identifier,
    l.id AS layer_id,
    'gmd:MD_Metadata'::text AS typename,
    'http://www.isotc211.org/2005/gmd'::text AS schema,
    'local'::text AS mdsource,
    to_char(l.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS insert_date,
    {anytext} AS anytext,
    'application/xml'::text AS metadata_type,
    'chi'::text AS language,
    CASE l.kind WHEN 'table' THEN 'nonGeographicDataset' WHEN 'service' THEN 'service' ELSE 'dataset' END AS type,
    l.title_zh::text AS title,
    NULLIF(l.title_en, '')::text AS title_alternate,
    l.abstract AS abstract,
    NULLIF(array_to_string(l.keywords, ','), '') AS keywords,
    l.temporal_start::text AS time_begin,
    l.temporal_end::text AS time_end,
    NULLIF(l.topic_category, '')::text AS topicategory,
    'chi'::text AS resourcelanguage,
    NULLIF(l.contact_organisation, '')::text AS creator,
    g.name::text AS publisher,
    COALESCE(NULLIF(l.contact_organisation, ''), g.name)::text AS organization,
    CASE WHEN l.visibility = 'public' THEN 'license' ELSE 'otherRestrictions' END AS accessconstraints,
    NULLIF(l.license, '')::text AS otherconstraints,
    COALESCE(l.revision_date, l.creation_date, (l.updated_at AT TIME ZONE 'UTC')::date)::text AS date,
    l.revision_date::text AS date_revision,
    l.creation_date::text AS date_creation,
    to_char(l.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS date_modified,
    CASE l.kind WHEN 'vector' THEN 'GeoJSON' WHEN 'raster' THEN 'GeoTIFF' WHEN 'table' THEN 'CSV' END AS format,
    NULLIF(l.source, '')::text AS source,
    CASE WHEN l.kind <> 'table' THEN 'EPSG:' || l.srid END AS crs,
    l.scale_denominator::text AS denominator,
    l.resolution_m::text AS distancevalue,
    CASE WHEN l.resolution_m IS NOT NULL THEN 'm' END AS distanceuom,
    ST_AsText(l.extent) AS wkt_geometry,
    NULL::float AS vert_extent_min,
    NULL::float AS vert_extent_max,
    NULLIF(l.lineage, '') AS lineage,
    {nulls},
    l.extent AS wkb_geometry
FROM layers_layer l
LEFT JOIN auth_group g ON g.id = l.owner_agency_id
LEFT JOIN layers_theme t ON t.id = l.theme_id{join}
"""

# 0001: anytext computed per row
CREATE_VIEW_COMPUTED_ANYTEXT = _VIEW.format(view=VIEW, anytext=ANYTEXT, join="",
                                            nulls=", ".join(f"NULL::text AS {name}" for name in _NULLS))
# 0002 on: anytext stored per layer
CREATE_VIEW = _VIEW.format(view=VIEW, anytext="x.anytext",
                           join="\nLEFT JOIN catalogue_record_text x ON x.layer_id = l.id",
                           nulls=", ".join(f"NULL::text AS {name}" for name in _NULLS))

DROP_VIEW = f"DROP VIEW IF EXISTS {VIEW}"

# the stored anytext: one function writes a layer's row; triggers call it
STORE_ANYTEXT = f"""
ALTER TABLE catalogue_record_text ADD CONSTRAINT catalogue_record_text_layer FOREIGN KEY (layer_id)
    REFERENCES layers_layer (id) ON DELETE CASCADE;
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX catalogue_record_text_trgm ON catalogue_record_text USING gin (anytext gin_trgm_ops);

CREATE FUNCTION catalogue_record_text_write(ids bigint[]) RETURNS void LANGUAGE sql AS $$
    INSERT INTO catalogue_record_text (layer_id, anytext)
    SELECT l.id, {ANYTEXT}
    FROM layers_layer l
    LEFT JOIN auth_group g ON g.id = l.owner_agency_id
    LEFT JOIN layers_theme t ON t.id = l.theme_id
    WHERE l.id = ANY(ids)
    ON CONFLICT (layer_id) DO UPDATE SET anytext = EXCLUDED.anytext
$$;

CREATE FUNCTION catalogue_record_text_of_layers() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM catalogue_record_text_write(ARRAY(SELECT id FROM changed));
    RETURN NULL;
END $$;

-- an agency or a theme renamed: the layers that name it (the layer's column referring to it: the trigger's argument)
CREATE FUNCTION catalogue_record_text_of_referrers() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('SELECT catalogue_record_text_write(ARRAY(SELECT l.id FROM layers_layer l JOIN changed c '
                   'ON c.id = l.%I))', TG_ARGV[0]);
    RETURN NULL;
END $$;

CREATE TRIGGER catalogue_record_text_insert AFTER INSERT ON layers_layer REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION catalogue_record_text_of_layers();
CREATE TRIGGER catalogue_record_text_update AFTER UPDATE ON layers_layer REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION catalogue_record_text_of_layers();
CREATE TRIGGER catalogue_record_text_agency AFTER UPDATE ON auth_group REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION catalogue_record_text_of_referrers('owner_agency_id');
CREATE TRIGGER catalogue_record_text_theme AFTER UPDATE ON layers_theme REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION catalogue_record_text_of_referrers('theme_id');

SELECT catalogue_record_text_write(ARRAY(SELECT id FROM layers_layer));
ANALYZE catalogue_record_text;
"""  # noqa: S608 - names are constants here, no input

UNSTORE_ANYTEXT = """
DROP TRIGGER IF EXISTS catalogue_record_text_insert ON layers_layer;
DROP TRIGGER IF EXISTS catalogue_record_text_update ON layers_layer;
DROP TRIGGER IF EXISTS catalogue_record_text_agency ON auth_group;
DROP TRIGGER IF EXISTS catalogue_record_text_theme ON layers_theme;
DROP FUNCTION IF EXISTS catalogue_record_text_of_layers();
DROP FUNCTION IF EXISTS catalogue_record_text_of_referrers();
DROP FUNCTION IF EXISTS catalogue_record_text_write(bigint[]);
"""
