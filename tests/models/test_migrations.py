"""The migrations build exactly the schema the models describe (a model change needs a migration)."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext



def test_models_and_migrations_agree(app, db):
    context = MigrationContext.configure(db.session.connection(), opts={"compare_type": True})
    diff = compare_metadata(context, db.metadata)
    assert diff == [], f"models differ from the migrations; run `flask --app app db migrate`: {diff}"


def test_downgrade_and_upgrade_again(app, tmp_path):
    """A database made by an older version upgrades: walk down to nothing and back up."""
    from flask_migrate import downgrade, upgrade

    from app import create_app

    scratch = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'm.db'}"})
    with scratch.app_context():
        upgrade()
        downgrade(revision="base")
        upgrade()
        from app.extensions import db

        assert "tickets" in db.inspect(db.engine).get_table_names()
        db.engine.dispose()
