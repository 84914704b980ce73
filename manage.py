#!/usr/bin/env python
import os
import sys

NO_DATABASE = ("DATABASE_URL is not set. Against the running demo (`make demo` in another terminal) use the wrapper, "
               "which sets it: ./civgis manage {command}. Against another PostGIS server: "
               "DATABASE_URL=postgis://user:pass@host:5432/civgis {python} manage.py {command}")

if __name__ == "__main__":
    if not os.environ.get("DATABASE_URL"):  # the settings need it: say how, rather than a traceback
        command = " ".join(sys.argv[1:]) or "COMMAND"
        sys.exit("manage.py: " + NO_DATABASE.format(command=command, python=os.path.relpath(sys.executable)))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "geo.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
