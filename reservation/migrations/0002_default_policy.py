from django.db import migrations


def create_default(apps, schema_editor) -> None:  # noqa: ANN001
    BookingPolicy = apps.get_model("reservation", "BookingPolicy")
    BookingPolicy.objects.get_or_create(provider=None)


class Migration(migrations.Migration):
    """The global default booking policy, so the admin has a row to edit from day one."""

    dependencies = [("reservation", "0001_initial")]

    operations = [migrations.RunPython(create_default, migrations.RunPython.noop)]
