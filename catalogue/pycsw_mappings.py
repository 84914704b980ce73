"""pycsw's core model over catalogue_csw_records: pycsw's own column names, plus the primary key a view lacks
(SQLAlchemy maps no table without one). Loaded by pycsw from `repository.mappings` (catalogue.csw)."""

import copy

from pycsw.core.config import StaticContext
from sqlalchemy import PrimaryKeyConstraint

MD_CORE_MODEL = copy.deepcopy(StaticContext().md_core_model)
MD_CORE_MODEL["column_constraints"] = (PrimaryKeyConstraint("identifier"),)
