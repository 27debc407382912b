"""Steps of the day on the simulated instruments: the enzyme-inhibition tester on a pty pair (read by
the driver exactly as /dev/ttyUSB0), and `lims acquire`'s service running the Modbus TCP photometer
and the LC-MS/MS data system sending ASTM E1381/E1394 over TCP. Raw bytes are committed before they
are parsed or acknowledged."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hardware_sim.astm import AstmMessage, AstmResult, AstmSenderSim
from hardware_sim.enzyme import EnzymeTesterSim, SimSample
from hardware_sim.faults import Faults
from hardware_sim.modbus_analyzer import ModbusAnalyzerSim, PlannedResult
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from drivers.codecs.modbus_map import encode_string
from drivers.profiles import load_profile
from drivers.transports.modbus import ModbusLink
from drivers.transports.serial import open_serial_for_profile
from lims.acquisition import AcquisitionService, parse_config
from lims.acquisition.feed import LineAcquisition, read_serial_until
from lims.db.models import Analysis, Instrument, Reading, Result, Sample
from lims.demo.reference import LAB_CODE, PASSWORDS, TZ, VEG_DAY
from lims.services import attach, signoff
from lims.services.screening import results_from_readings

if TYPE_CHECKING:
    from lims.demo.day import DemoDay


def run_enzyme_tester(factory: sessionmaker[Session], samples: list[SimSample], *, run_no: int, seed: int,
                      faults: Faults | None = None) -> tuple[EnzymeTesterSim, LineAcquisition, str]:
    """One run of the simulated enzyme-inhibition tester on a pty pair, read by the driver exactly as it
    would read /dev/ttyUSB0; raw lines are committed before they are parsed."""
    profile = load_profile("enzyme_ascii_16ch")
    sim = EnzymeTesterSim(samples, run_no=run_no, seed=seed, faults=faults)
    path = sim.start_pty()
    acquisition = LineAcquisition(factory, "EI-01", profile)
    port = open_serial_for_profile(path, profile, timeout=0.2)
    try:
        read_serial_until(port, acquisition, end_record="END", runs=1, idle_timeout_s=5.0)
    finally:
        port.close()
        sim.stop()
    return sim, acquisition, path




def screen_enzyme(day: DemoDay, codes: list[str]) -> None:
    truth = dict(zip(day.veg, (p for _c, p in VEG_DAY), strict=True))
    samples = [SimSample(i + 1, code, truth[code]) for i, code in enumerate(codes)]
    # the CH line of the second sample is corrupted on the wire; its raw capture is kept with the error
    _sim, acquisition, path = run_enzyme_tester(day.factory, samples, run_no=1, seed=20261128,
                                                faults=Faults(malformed_lines=(3,)))
    st = acquisition.stats
    day.log.step(f"enzyme tester on pty {path}: {st.captures} raw lines stored, {st.readings} parsed, "
                  f"{st.errors} kept with their error ({'; '.join(st.error_messages)})")
    # the operator re-runs the sample whose line was lost: a second run, clean
    tech = day.user_id("zhangwei")
    with day.uow("zhangwei", "screening results from the enzyme tester") as s:
        outcome = results_from_readings(s, st.reading_ids, analyst_id=tech)
    ids = list(outcome.results)
    screened = set(_screened(day))
    lost = [c for c in codes if c not in screened]
    if lost:
        _sim, acq2, _path = run_enzyme_tester(
            day.factory, [SimSample(i + 1, c, truth[c]) for i, c in enumerate(lost)], run_no=2, seed=7)
        with day.uow("zhangwei", "screening re-run of a sample whose line was corrupted") as s:
            outcome2 = results_from_readings(s, acq2.stats.reading_ids, analyst_id=tech)
        ids += outcome2.results
        outcome.positives.extend(outcome2.positives)
        day.log.step(f"re-ran {', '.join(lost)} on the tester (run 2): {len(outcome2.results)} result")
    day.results += ids
    day.positives += outcome.positives
    day.log.step(f"calibration/: inhibition % and screening calls for {len(ids)} samples; positive "
                  f"{outcome.positives or 'none'} → confirmatory GC analyses requested automatically")


def _screened(day: DemoDay) -> list[str]:
    with day.factory() as s:
        return list(s.execute(select(Sample.code).join(Analysis).join(Result)
                              .where(Analysis.kind == "screening")).scalars())


def acquire_service_day(day: DemoDay, photometer_codes: list[str]) -> None:
    """`lims acquire`'s service runs both instruments concurrently: the LIMS downloads each sample ID
    to the photometer over Modbus TCP and starts it; the LC-MS/MS data system sends the pork results
    by ASTM E1381/E1394 over TCP. Raw bytes are committed before anything is parsed or ACKed."""
    truth = dict(zip(day.veg, (p for _c, p in VEG_DAY), strict=True))
    photometer = ModbusAnalyzerSim([PlannedResult(truth[c], 0.0) for c in photometer_codes], measure_time_s=0.2,
                                   seed=3)
    mb_port = photometer.start_tcp()
    now = dt.datetime.now(TZ).replace(tzinfo=None)
    lcms = AstmSenderSim([AstmMessage(code, (AstmResult("CLENBUTEROL", "ND", units="µg/kg"),),
                                      method="GB/T22286", operator="zhangwei", instrument_id="LC-01",
                                      completed_at=now) for code in day.pork],
                         reply_timeout_s=2.0, busy_retry_s=0.5)
    astm_port = lcms.start_tcp()
    config = parse_config(
        f"""[acquire]
lab = "{LAB_CODE}"
status_interval_s = 0.2
[[instrument]]
code = "PH-01"
profile = "modbus_photometric"
transport = "modbus-tcp://127.0.0.1:{mb_port}?device_id=1"
poll_interval_s = 0.1
[[instrument]]
code = "LC-01"
profile = "astm_gc_datasystem"
transport = "socket://127.0.0.1:{astm_port}"
""", file="demo-acquire.toml")
    service = AcquisitionService(config, day.factory)
    service.start()
    worklist = ModbusLink.tcp("127.0.0.1", mb_port, device_id=1, timeout_s=1.0)
    try:
        worklist.connect()
        for code in photometer_codes:
            worklist.write_registers(2, encode_string(code, 8))
            worklist.write_registers(0, [1])  # COMMAND = start measurement
            _wait_reading(day, lambda c=code: select(Reading.id).where(Reading.sample_code == c), 10.0)
        _wait_reading(day, lambda: select(func.count()).select_from(Reading).where(
            Reading.record_type == "R", Reading.sample_code.in_(day.pork)), 15.0, count=len(day.pork))
    finally:
        worklist.close()
        service.stop()
        photometer.stop()
        lcms.stop()
    tech = day.user_id("zhangwei")
    with day.factory() as s:
        ph = list(s.execute(select(Reading.id).join(Instrument).where(Instrument.code == "PH-01")).scalars())
        lc = list(s.execute(select(Reading.id).join(Instrument).where(Instrument.code == "LC-01")).scalars())
    with day.uow("zhangwei", "photometer screening results") as s:
        screened = attach.results_from_photometer(s, ph, analyst_id=tech)
    with day.uow("zhangwei", "LC-MS/MS results") as s:
        confirmed = attach.results_from_astm(s, lc, analyst_id=tech)
    with day.uow("zhangwei", "authorship") as s:
        signoff.author_results(s, screened.results + confirmed.results, username="zhangwei",
                               password=PASSWORDS["zhangwei"])
    day.results += screened.results + confirmed.results
    day.positives += screened.positives
    day.log.step(f"Modbus TCP photometer (port {mb_port}): {len(screened.results)} screening results "
                  f"(float32 CDAB); LC-MS/MS over ASTM/TCP (port {astm_port}): {len(confirmed.results)} "
                  f"clenbuterol results, {lcms.acks_received} frames ACKed after commit")


def _wait_reading(day: DemoDay, query: Callable[[], Any], timeout_s: float, count: int = 1) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        with day.factory() as s:
            rows = s.execute(query()).scalars().all()
            n = rows[0] if rows and isinstance(rows[0], int) and count > 1 else len(rows)
            if n >= count:
                return
        time.sleep(0.05)
    raise RuntimeError(f"instrument data did not arrive within {timeout_s:.0f} s")
