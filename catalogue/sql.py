"""The SQL of the view pycsw reads (catalogue/migrations/0001_csw_records_view.py). A change here needs a new
migration that drops and recreates the view."""

VIEW = "catalogue_csw_records"

_NULLS = ("edition keywordstype themes parentidentifier relation contributor securityconstraints date_publication "
          "geodescode servicetype servicetypeversion operation couplingtype operateson operatesonidentifier "
          "operatesoname degree classification conditionapplyingtoaccessanduse responsiblepartyrole "
          "specificationtitle specificationdate specificationdatetype platform instrument sensortype cloudcover "
          "bands links contacts xml metadata").split()

CREATE_VIEW = f"""
CREATE VIEW {VIEW} AS
SELECT
    l.slug::text AS identifier,
    l.id AS layer_id,
    'gmd:MD_Metadata'::text AS typename,
    'http://www.isotc211.org/2005/gmd'::text AS schema,
    'local'::text AS mdsource,
    to_char(l.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS insert_date,
    concat_ws(' ', l.slug, l.title_zh, l.title_en, l.abstract, array_to_string(l.keywords, ' '), l.lineage,
              l.source, l.license, l.contact_organisation, g.name, t.name_zh, t.name_en, l.topic_category) AS anytext,
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
    {", ".join(f"NULL::text AS {name}" for name in _NULLS)},
    l.extent AS wkb_geometry
FROM layers_layer l
LEFT JOIN auth_group g ON g.id = l.owner_agency_id
LEFT JOIN layers_theme t ON t.id = l.theme_id
"""  # noqa: S608 - names are constants here, no input

DROP_VIEW = f"DROP VIEW IF EXISTS {VIEW}"
