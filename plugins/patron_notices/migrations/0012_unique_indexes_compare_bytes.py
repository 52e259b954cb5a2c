# The contact's email and the patron's card number are unique by indexes that compare
# bytes (the pattern operator class) rather than through the database's collation: the
# same equality, cheaper for each of an import's insertions. PostgreSQL only; other
# databases build the plain unique index as before. Each index is rebuilt: a few seconds
# per million rows, with the table locked meanwhile.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("patron_notices", "0011_postal_address_keyed_by_patron"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="contact",
            name="one_contact_per_email",
        ),
        migrations.AddConstraint(
            model_name="contact",
            constraint=models.UniqueConstraint(
                fields=("email",), name="one_contact_per_email", opclasses=["varchar_pattern_ops"]
            ),
        ),
        migrations.RemoveConstraint(
            model_name="patron",
            name="one_card_per_library",
        ),
        migrations.AddConstraint(
            model_name="patron",
            constraint=models.UniqueConstraint(
                fields=("library", "card_number"),
                name="one_card_per_library",
                opclasses=["int8_ops", "varchar_pattern_ops"],
            ),
        ),
    ]
