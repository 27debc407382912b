"""`lims pt` (CONTRACTS.md): proficiency-testing statistics on CSV files.

- ``lims pt assign CSV --method METHOD [--dof N] --json``: assigned value and robust SD per analyte.
- ``lims pt score CSV --assigned X [--u-assigned U] (--sigma-pt S | --sigma horwitz | --sigma ffp=R)``.
- ``lims pt homogeneity CSV --sigma-pt S``: ISO 13528:2022 Annex B check.

Typed errors of :mod:`proficiency` become BadInput (exit 2) naming file, line and field.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lims.cli.common import EXIT_FAILURE, EXIT_OK, BadInput, CsvRow, emit_json, read_csv
from proficiency.errors import NonConvergenceError, ProficiencyError

if TYPE_CHECKING:  # the statistics (numpy/scipy) load when a command runs, not for `--help` (issue 17)
    from proficiency import robust
    from proficiency._validate import FloatArray

ASSIGN_METHODS = ("algorithm-a", "median", "q-hampel", "mean", "algorithm-s")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``lims pt assign|score|homogeneity``."""
    pt = sub.add_parser("pt", help="proficiency testing (ISO 13528:2022) / 能力验证")
    pt_sub = pt.add_subparsers(dest="pt_command", metavar="PT_COMMAND")
    pt.set_defaults(handler=lambda _args: _usage(pt))

    a = pt_sub.add_parser("assign", help="assigned value and robust SD per analyte")
    a.add_argument("csv", metavar="CSV")
    a.add_argument("--method", required=True, choices=ASSIGN_METHODS)
    a.add_argument("--dof", type=int, default=None, help="degrees of freedom of each SD (algorithm-s)")
    a.add_argument("--json", action="store_true")
    a.set_defaults(handler=cmd_assign)

    s = pt_sub.add_parser("score", help="z, z', zeta, En, D, D%% for each participant")
    s.add_argument("csv", metavar="CSV")
    s.add_argument("--assigned", required=True, type=float, help="assigned value x_pt")
    s.add_argument("--u-assigned", type=float, default=0.0, help="standard uncertainty u(x_pt)")
    g = s.add_mutually_exclusive_group(required=True)
    g.add_argument("--sigma-pt", type=float, help="sigma_pt as a number")
    g.add_argument("--sigma", help="'horwitz' (X in mg/kg) or 'ffp=R' (R a fraction, or 'R%%')")
    s.add_argument("--json", action="store_true")
    s.set_defaults(handler=cmd_score)

    h = pt_sub.add_parser("homogeneity", help="ISO 13528 Annex B homogeneity check")
    h.add_argument("csv", metavar="CSV")
    h.add_argument("--sigma-pt", required=True, type=float)
    h.add_argument("--json", action="store_true")
    h.set_defaults(handler=cmd_homogeneity)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


# ---------------------------------------------------------------------------- assign

@dataclass
class _Group:
    analyte: str | None
    first_line: int
    values: list[float] | FloatArray


def _groups(rows: list[CsvRow], path: str) -> list[_Group]:
    groups: dict[str | None, _Group] = {}
    for row in rows:
        row.text("lab", file=path)
        analyte = row.text("analyte", file=path, required=False) if "analyte" in row.values else None
        value = row.number("result", file=path)
        assert value is not None
        grp = groups.setdefault(analyte, _Group(analyte, row.line, []))
        grp.values.append(value)
    return list(groups.values())


def _plain_groups(path: str) -> list[_Group] | None:
    """The groups of a plain CSV read column-wise (:mod:`lims.cli.pt_ingest`); None to read it row by row.
    A plain CSV has its header on line 1 and no blank line: data row i is on line i + 2."""
    from lims.cli.pt_ingest import groups_by_code, read_columns, text_codes

    cols = read_columns(path, ["lab", "result"], ["analyte"])
    if cols is None or not cols.filled("lab"):
        return None
    values = cols.numbers("result")
    if values is None:
        return None
    if not cols.has("analyte"):
        return [_Group(None, 2, values)]
    coded = cols.codes("analyte")
    if coded is None:  # a blank analyte: a group of its own (None), as row by row
        coded = text_codes(cols.cells["analyte"] if cols.stripped else list(map(str.strip, cols.cells["analyte"])))
    # float64 arrays of the very numbers the row-by-row reader's lists hold: the estimators make the same
    # arrays of either (tests/proficiency/test_pt_cli_plain.py compares both paths)
    return [_Group(key or None, first + 2, vals) for key, first, vals in groups_by_code(*coded, values)]


def _estimate(method: str, values: list[float], dof: int | None) -> robust.RobustEstimate:
    from proficiency import robust

    if method == "algorithm-a":
        return robust.algorithm_a(values)
    if method == "median":
        return robust.median_estimate(values)
    if method == "q-hampel":
        return robust.q_hampel(values)
    if method == "mean":
        return robust.mean_sd(values)
    assert dof is not None
    return robust.algorithm_s(values, dof)


def cmd_assign(args: argparse.Namespace) -> int:
    from proficiency import robust

    path = args.csv
    if args.method == "algorithm-s" and (args.dof is None or args.dof < 1):
        raise BadInput("--dof N (a positive integer) is required with --method algorithm-s", field="--dof")
    groups = _plain_groups(path)
    if groups is None:  # not a plain CSV: the csv module reads it and names any fault
        rows = read_csv(path, required=["lab", "result"], optional=["analyte", "uncertainty", "k"])
        if not rows:
            raise BadInput("no data rows", file=path, line=2, field="result")
        groups = _groups(rows, path)
    out: list[dict[str, Any]] = []
    fast: list[robust.RobustEstimate | None] = [None] * len(groups)
    if args.method == "algorithm-a":  # analytes with the same number of results iterate together
        from proficiency.batch import algorithm_a_each

        fast = algorithm_a_each([grp.values for grp in groups])
    for grp, ready in zip(groups, fast, strict=True):
        try:
            est = ready or _estimate(args.method, grp.values, args.dof)
        except NonConvergenceError as exc:
            print(f"lims pt assign: {path}: analyte {grp.analyte!r}: {exc}", file=sys.stderr)
            return EXIT_FAILURE
        except ProficiencyError as exc:
            where = f"analyte {grp.analyte!r}: " if grp.analyte is not None else ""
            raise BadInput(f"{where}{exc}", file=path, line=grp.first_line, field="result") from None
        entry: dict[str, Any] = {
            "analyte": grp.analyte, "method": args.method, "n": est.n,
            "assigned_value": est.location, "robust_sd": est.scale,
            "u_assigned": robust.U_FACTOR * est.scale / math.sqrt(est.n),
            "iterations": est.iterations,
        }
        if args.method == "median":
            entry["made"] = est.made
        out.append(entry)
    doc = {"analytes": out}
    if args.json:
        emit_json(doc)
    else:
        for e in out:
            print(f"{e['analyte'] or '-'}\t{e['method']}\tn={e['n']}\tx_pt={e['assigned_value']:.6g}\t"
                  f"s*={e['robust_sd']:.6g}\tu={e['u_assigned']:.3g}")
    return EXIT_OK


# ---------------------------------------------------------------------------- score

def _sigma_pt(args: argparse.Namespace) -> float:
    from proficiency import sigma

    """sigma_pt from --sigma-pt, or --sigma horwitz (8.4, X in mg/kg) / ffp=R (8.2)."""
    if args.sigma_pt is not None:
        if not (math.isfinite(args.sigma_pt) and args.sigma_pt > 0):
            raise BadInput(f"sigma_pt must be a positive number (got {args.sigma_pt})", field="--sigma-pt")
        return float(args.sigma_pt)
    spec = args.sigma.strip().lower()
    try:
        if spec == "horwitz":
            return sigma.horwitz_sigma_mg_kg(abs(args.assigned))
        if spec.startswith("ffp="):
            raw = spec[4:].strip()
            try:
                rsd = float(raw[:-1]) / 100.0 if raw.endswith("%") else float(raw)
            except ValueError:
                raise BadInput(f"RSD {raw!r} is not a number", field="--sigma") from None
            if not (0 < rsd < 1):
                raise BadInput(f"RSD {raw!r} must be a fraction (0.25) or a percentage (25%)", field="--sigma")
            return sigma.ffp_sigma(args.assigned, rsd)
    except ProficiencyError as exc:
        raise BadInput(str(exc), field="--sigma") from None
    raise BadInput(f"unknown sigma specification {args.sigma!r} (horwitz or ffp=R)", field="--sigma")


def cmd_score(args: argparse.Namespace) -> int:
    path = args.csv
    for name, v in (("--assigned", args.assigned), ("--u-assigned", args.u_assigned)):
        if not math.isfinite(v):
            raise BadInput(f"not a finite number: {v}", field=name)
    if args.u_assigned < 0:
        raise BadInput("u(x_pt) must not be negative", field="--u-assigned")
    sig = _sigma_pt(args)
    if not sig > 0:
        raise BadInput(f"sigma_pt evaluates to {sig}; it must be positive", field="--sigma")
    plain = _plain_scores(path, args.assigned, sig, args.u_assigned)
    if plain is not None and args.json:
        _write_scores(args.assigned, sig, plain)
        return EXIT_OK
    out, statistic = (plain.rows(), plain.statistic) if plain is not None else _row_scores(
        path, args.assigned, sig, args.u_assigned)
    doc = {"assigned_value": args.assigned, "sigma_pt": sig, "statistic": statistic, "scores": out}
    if args.json:
        emit_json(doc)
    else:
        print(f"x_pt = {args.assigned:.6g}, sigma_pt = {sig:.6g}, classified by {statistic}")
        for e in out:
            print(f"{e['lab']}\t{e['result']:.6g}\tz={e['z']:.2f}\tz'={e['z_prime']:.2f}\t{e['class']}")
    return EXIT_OK


SCORE_KEYS = ("lab", "result", "z", "z_prime", "zeta", "en", "d", "d_percent", "class")


@dataclass(frozen=True)
class _PlainScores:
    """The scores of a plain CSV: every distinct combination of a row's numbers (result, U, k) scored once
    (``columns``: by :data:`SCORE_KEYS` after ``lab``, as Python values, None for null), ``combination``:
    which one each row has; labs as (distinct names, the code of every row)."""

    labs: list[str]
    lab_codes: Any
    columns: list[list[Any]]
    combination: Any
    statistic: str

    def rows(self) -> list[dict[str, Any]]:
        """Every row as its dict, in file order."""
        distinct = list(zip(*self.columns, strict=True))
        return [dict(zip(SCORE_KEYS, (self.labs[lab], *distinct[c]), strict=True))
                for lab, c in zip(self.lab_codes.tolist(), self.combination.tolist(), strict=True)]


def _json_column(values: list[Any]) -> list[str]:
    """Each value as ``json.dumps`` writes it: floats by ``float.__repr__``, None as null, texts through
    ``json``'s string encoder (what ``ensure_ascii=False`` uses)."""
    from json.encoder import encode_basestring  # type: ignore[attr-defined]

    kinds = set(map(type, values))  # a few types at most: checked once each, not once per value
    if kinds <= {float}:
        return list(map(float.__repr__, values))
    if kinds <= {str}:
        return list(map(encode_basestring, values))
    return ["null" if v is None else encode_basestring(v) if isinstance(v, str) else float.__repr__(v)
            for v in values]


def _write_scores(xpt: float, sig: float, plain: _PlainScores, block: int = 8192) -> None:
    """The document ``emit_json`` prints for these scores (finite numbers only, so its cleaning changes
    nothing), written block by block: each row is its lab's text and its combination's text, each formatted
    once (``json.dumps``'s separators, key order and texts)."""
    import numpy as np

    head = json.dumps({"assigned_value": xpt, "sigma_pt": sig, "statistic": plain.statistic, "scores": []},
                      ensure_ascii=False)
    write = sys.stdout.write
    write(head[:-2])
    row = ", ".join(f'"{key}": %s' for key in SCORE_KEYS[1:]) + "}"
    tails = np.array([row % cells for cells in zip(*map(_json_column, plain.columns), strict=True)], dtype=object)
    labs = np.array([f', {{"lab": {text}, ' for text in _json_column(plain.labs)], dtype=object)
    rows = len(plain.combination)
    for start in range(0, rows, block):  # block by block: memory stays flat
        end = min(start + block, rows)
        texts = np.empty(2 * (end - start), dtype=object)
        texts[0::2] = labs[plain.lab_codes[start:end]]
        texts[1::2] = tails[plain.combination[start:end]]
        chunk = "".join(texts.tolist())
        write(chunk if start else chunk[2:])
    write("]}\n")
    sys.stdout.flush()


def _row_scores(path: str, xpt: float, sig: float, u: float) -> tuple[list[dict[str, Any]], str]:
    """Every row read and scored one by one (:func:`proficiency.scores.score_result`); faults are BadInput."""
    from proficiency import scores

    rows = read_csv(path, required=["lab", "result"], optional=["uncertainty", "k"])
    out: list[dict[str, Any]] = []
    statistic = "z"
    for row in rows:
        lab = row.text("lab", file=path)
        x = row.number("result", file=path)
        big_u = row.number("uncertainty", file=path, required=False) if "uncertainty" in row.values else None
        k = row.number("k", file=path, required=False) if "k" in row.values else None
        if big_u is not None and big_u < 0:
            raise BadInput("expanded uncertainty must not be negative", file=path, line=row.line, field="uncertainty")
        if k is not None and not k > 0:
            raise BadInput("coverage factor must be positive", file=path, line=row.line, field="k")
        assert x is not None
        try:
            sc = scores.score_result(x, xpt, sig, u, expanded_u_result=big_u, coverage_factor=2.0 if k is None else k)
        except ProficiencyError as exc:
            raise BadInput(str(exc), file=path, line=row.line, field="result") from None
        statistic = sc.statistic
        out.append({"lab": lab, "result": x, "z": sc.z, "z_prime": sc.z_prime, "zeta": sc.zeta, "en": sc.en,
                    "d": sc.d, "d_percent": sc.d_percent, "class": sc.classification})
    return out, statistic


def _plain_score_inputs(path: str) -> tuple[tuple[list[str], Any], FloatArray, FloatArray | None, FloatArray] | None:
    """((distinct labs, lab code of every row), results, expanded uncertainties or None without the column,
    coverage factors) of a plain CSV (:mod:`lims.cli.pt_ingest`); None when it is not plain or a value would
    be refused row by row."""
    import numpy as np

    from lims.cli.pt_ingest import read_columns

    cols = read_columns(path, ["lab", "result"], ["uncertainty", "k"])
    labs = cols.codes("lab") if cols is not None else None
    x = cols.numbers("result") if cols is not None else None
    if cols is None or labs is None or x is None:
        return None
    big_u = cols.numbers("uncertainty") if cols.has("uncertainty") else None
    k = cols.numbers("k") if cols.has("k") else np.full(cols.rows, 2.0)
    if (cols.has("uncertainty") and (big_u is None or (big_u < 0).any())) or k is None or not (k > 0).all():
        return None
    return labs, x, big_u, k


def _mix64(key: Any) -> Any:
    """MurmurHash3's 64-bit finaliser (a bijection of 64-bit words; products wrap modulo 2**64)."""
    import numpy as np

    key = key ^ (key >> np.uint64(33))
    key = key * np.uint64(0xFF51AFD7ED558CCD)
    key ^= key >> np.uint64(33)
    key *= np.uint64(0xC4CEB9FE1A85EC53)
    return key ^ (key >> np.uint64(33))


def _combinations(columns: list[FloatArray]) -> tuple[Any, Any]:
    """(a row of every distinct combination of the columns' values, told apart by their bits (−0.0 is not
    0.0), the combination of every row). The bits are mixed into one 64-bit key (:func:`_mix64`) and sorted once; rows with
    equal keys are checked to have equal bits (else every row is a combination of its own). A column of one
    value (== each other: U and k, whose sign of zero changes no score) is left out by the caller."""
    import numpy as np

    bits = [np.ascontiguousarray(column).view(np.uint64) for column in columns]
    key = bits[0]
    for more in bits[1:]:
        key = _mix64(key) ^ more
    order = np.argsort(key)
    ordered = key[order]
    new = np.concatenate(([True], ordered[1:] != ordered[:-1]))
    group = np.cumsum(new) - 1
    heads = order[new]
    if not all(bool(np.array_equal(b[order], b[heads][group])) for b in bits):
        return np.arange(len(key)), np.arange(len(key))
    combination = np.empty(len(key), dtype=np.intp)
    combination[order] = group
    return heads, combination


def _plain_scores(path: str, xpt: float, sig: float, u: float) -> _PlainScores | None:
    """The scores of a plain CSV computed column by column for its distinct combinations of numbers, the
    same arithmetic as :func:`proficiency.scores.score_result` row by row (element-wise IEEE operations in
    the same order, ``math.hypot`` itself for each denominator); None — read row by row — for anything
    that is not plain or that ``score_result`` would refuse."""
    import numpy as np

    from proficiency.scores import QUESTIONABLE, SATISFACTORY, UNSATISFACTORY
    from proficiency.sigma import uncertainty_negligible

    inputs = _plain_score_inputs(path)
    if inputs is None:
        return None
    labs, x, big_u, k = inputs
    first, combination = _combinations([x, *(c for c in (big_u, k) if c is not None and not (c == c[0]).all())])
    x, k = x[first], k[first]
    n = len(x)
    scored = np.zeros(n, dtype=bool) if big_u is None else (big_u[first] > 0) | (u > 0)
    big_u = np.full(n, np.nan) if big_u is None else big_u[first]
    prime = not uncertainty_negligible(u, sig)
    with np.errstate(all="ignore"):  # a non-finite outcome sends the file to the row-by-row path
        d = x - xpt
        z = d / sig
        zp = d / math.hypot(sig, u)
        zeta = d / np.fromiter(map(math.hypot, (big_u / k).tolist(), [u] * n), dtype=np.float64, count=n)
        en = d / np.fromiter(map(math.hypot, big_u.tolist(), [2.0 * u] * n), dtype=np.float64, count=n)
        pct = 100.0 * d / xpt if xpt != 0 else np.zeros(n)
    score = np.abs(zp if prime else z)
    if not all(bool(np.isfinite(a).all()) for a in (d, z, zp, pct, zeta[scored], en[scored])):
        return None
    classes = np.where(score <= 2.0, SATISFACTORY, np.where(score < 3.0, QUESTIONABLE, UNSATISFACTORY)).tolist()
    flags = scored.tolist()
    zeta_c = [v if s else None for v, s in zip(zeta.tolist(), flags, strict=True)]
    en_c = [v if s else None for v, s in zip(en.tolist(), flags, strict=True)]
    pct_c = pct.tolist() if xpt != 0 else [None] * n
    columns = [x.tolist(), z.tolist(), zp.tolist(), zeta_c, en_c, d.tolist(), pct_c, classes]
    return _PlainScores(labs[0], labs[1], columns, combination, "z'" if prime else "z")


# ---------------------------------------------------------------------------- homogeneity

#: Columns of a homogeneity CSV: one row per measurement (the web page's upload reads the same).
HOMOGENEITY_COLUMNS = ("item", "replicate", "result")


def homogeneity_table(rows: list[CsvRow], path: str) -> list[list[float]]:
    """The g x m table (items in first-seen order, replicates in row order) of a homogeneity CSV's rows;
    :class:`BadInput` naming the line and field of a missing or bad value, a repeated replicate, an
    unbalanced design."""
    items: dict[str, dict[str, float]] = {}
    first_line: dict[str, int] = {}
    for row in rows:
        item = row.text("item", file=path)
        rep = row.text("replicate", file=path)
        x = row.number("result", file=path)
        assert item is not None and rep is not None and x is not None
        reps = items.setdefault(item, {})
        first_line.setdefault(item, row.line)
        if rep in reps:
            raise BadInput(f"item {item!r} replicate {rep!r} appears twice", file=path, line=row.line,
                           field="replicate")
        reps[rep] = x
    if not items:
        raise BadInput("no data rows", file=path, line=2, field="result")
    m = max(len(r) for r in items.values())
    for item, reps in items.items():
        if len(reps) != m:
            raise BadInput(f"item {item!r} has {len(reps)} replicate(s), others have {m} (balanced design needed)",
                           file=path, line=first_line[item], field="replicate")
    return [list(reps.values()) for reps in items.values()]


def cmd_homogeneity(args: argparse.Namespace) -> int:
    from proficiency import homogeneity as hom

    path = args.csv
    if not (math.isfinite(args.sigma_pt) and args.sigma_pt > 0):
        raise BadInput(f"sigma_pt must be positive (got {args.sigma_pt})", field="--sigma-pt")
    table = homogeneity_table(read_csv(path, required=HOMOGENEITY_COLUMNS), path)
    try:
        res = hom.homogeneity_check(table, args.sigma_pt)
    except ProficiencyError as exc:
        raise BadInput(str(exc), file=path, field="result") from None
    doc = {"g": res.g, "m": res.m, "mean": res.mean, "s_x": res.s_x, "s_w": res.s_w, "s_s": res.s_s,
           "criterion": res.criterion, "expanded_criterion": res.expanded_criterion, "passed": res.passed,
           "passed_expanded": res.passed_expanded, "f1": res.f1, "f2": res.f2,
           "f_statistic": res.f_statistic, "p_value": res.p_value}
    if args.json:
        emit_json(doc)
    else:
        verdict = "passed" if res.passed else ("passed (expanded criterion)" if res.passed_expanded else "FAILED")
        print(f"g={res.g} m={res.m} s_s={res.s_s:.4g} criterion={res.criterion:.4g} "
              f"expanded={res.expanded_criterion:.4g}: {verdict}")
    return EXIT_OK
