from sqlalchemy import select

from storage.tables import Area


async def test_migrated_database_is_empty_and_current(database):
    await database.check_schema()
    async with database.read() as s:
        assert (await s.execute(select(Area))).first() is None
