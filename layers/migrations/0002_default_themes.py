from django.db import migrations

# (slug, zh, en, parent slug): the thematic groups a city platform starts with.
THEMES = [
    ("admin", "行政區域", "Administrative areas", None),
    ("population", "人口統計", "Population", "admin"),
    ("transport", "交通", "Transport", None),
    ("roads", "道路", "Roads", "transport"),
    ("land", "土地", "Land", None),
    ("cadastre", "地籍", "Cadastre", "land"),
    ("buildings", "建築", "Buildings", None),
    ("facilities", "公共設施", "Public facilities", None),
    ("environment", "環境", "Environment", None),
    ("air-quality", "空氣品質", "Air quality", "environment"),
    ("water", "水利", "Water", None),
    ("disaster", "防災", "Disaster prevention", None),
    ("flooding", "淹水", "Flooding", "disaster"),
    ("communications", "通訊", "Communications", None),
    ("wifi", "無線網路", "Wi-Fi", "communications"),
    ("terrain", "地形", "Terrain", None),
    ("analysis-results", "分析成果", "Analysis results", None),
]


def create(apps, schema_editor):
    Theme = apps.get_model("layers", "Theme")
    for order, (slug, zh, en, parent) in enumerate(THEMES):
        Theme.objects.update_or_create(slug=slug, defaults={
            "name_zh": zh, "name_en": en, "order": order,
            "parent": Theme.objects.get(slug=parent) if parent else None})


def remove(apps, schema_editor):
    apps.get_model("layers", "Theme").objects.filter(slug__in=[t[0] for t in THEMES]).delete()


class Migration(migrations.Migration):
    dependencies = [("layers", "0001_initial")]
    operations = [migrations.RunPython(create, remove)]
