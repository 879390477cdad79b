"""The outcome record has one home (model/redoubt/core/outcome.py): tables derive their columns from it, and a field
that is not declared there is an error, never silently dropped."""

import dataclasses
import subprocess
import sys

import pyarrow as pa
import pytest
from redoubt.core.outcome import DAILY, OUTCOME_SCHEMA, PARAMETER_SCHEMA, SERIES, Outcome, schema_of
from redoubt.studies.parts import rows_to_table
from redoubt.studies.runs import RUN_SCHEMA, TABLE_SCHEMA, RunSpec, execute


def test_schema_is_derived_from_the_dataclass():
    names = [f.name for f in dataclasses.fields(Outcome)]
    assert OUTCOME_SCHEMA.names == names
    assert OUTCOME_SCHEMA.field("collapse_day").type == pa.int64()
    assert OUTCOME_SCHEMA.field("held_to_winter").type == pa.bool_()
    assert OUTCOME_SCHEMA.field("km_road_held").type == pa.float64()
    assert set(TABLE_SCHEMA.names) == set(RUN_SCHEMA.names) | set(names) | set(PARAMETER_SCHEMA.names)


def test_a_new_field_reaches_the_table():
    @dataclasses.dataclass(frozen=True)
    class Extended(Outcome):
        sorties_flown: int = 0

    schema = pa.unify_schemas([RUN_SCHEMA, schema_of(Extended)])
    assert schema.field("sorties_flown").type == pa.int64()
    table = rows_to_table([{"run_id": 1, "sorties_flown": 12}], schema=schema)
    assert table.column("sorties_flown").to_pylist() == [12]


def test_a_field_no_schema_declares_is_an_error_not_dropped():
    with pytest.raises(ValueError, match="sorties_flown"):
        rows_to_table([{"run_id": 1, "sorties_flown": 12}])


def test_the_models_records_match_their_declarations():
    row, series = execute(RunSpec(run_id=0, point=0, replication=0, seed=3, scenario="panjshir-2021",
                                  variant="air", overrides={"scenario.fighters_per_agent": 50}, series=True))
    assert row["status"] == "ok", row["error"]
    table = rows_to_table([row])  # every field the model reports is declared
    assert table.num_rows == 1 and table.column("variant").to_pylist() == ["air"]
    assert set(series) <= set(SERIES) and list(DAILY) == list(SERIES)


@pytest.mark.subprocess
def test_compare_and_sweep_processes_do_not_import_mesa():
    code = ("import sys, redoubt.studies.compare, redoubt.studies.sweep, redoubt.studies.executors; "
            "print('mesa' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"
