"""Places as planners write them, made into names assignment can match.

Assignment (:mod:`geo.assign`) matches a county by code, name, short name or alias, a township
likewise, and a village by its full register name. Registries write places more loosely; before
assigning, and only where the stated text does not already match, this module:

* drops a province or city in front of a county ("青海省西宁市湟中区" → 湟中区) or finds the
  county inside the text;
* splits a county written in front of a township ("湟中区多巴镇" → county 湟中区, township 多巴镇);
* reads a village's short form ("毛家台村", "毛家台") as the register's name ("毛家台村委会") when
  exactly one village fits (within the stated county and township);
* looks for county, township and village in the ``address`` when the row names none of them.

Every change is noted (the validation report shows how the row was read); stated text that
matches nothing is left as it is, so assignment flags it.
"""

from __future__ import annotations

import re

import pandas as pd

from geo.boundaries import Units
from layers.coords import clean_text
from layers.registry import REJECT_COLUMNS

_VILLAGE_SUFFIX = re.compile(
    r"(村民委员会|社区居民委员会|居民委员会|社区居委会|村委会|居委会|村委|社区|村)$"
)
_PREFIX = re.compile(r"^(青海省|青海)?(西宁市|西宁)?")
_Change = tuple[str, str, str]  # (column, reason, value as stated): one note of a change


def village_short_name(name: str) -> str:
    """The village name without its kind ("毛家台村委会" → "毛家台")."""
    text = clean_text(name).replace(" ", "")
    return _VILLAGE_SUFFIX.sub("", text) or text


def _county_keys(units: Units) -> list[tuple[str, str]]:
    """(text, county code) pairs, longest text first, for finding a county inside text."""
    keys = [(k, c) for k, c in units._county_keys.items() if len(k) >= 2 and not k.isdigit()]
    return sorted(keys, key=lambda kc: -len(kc[0]))


def _find_county(text: str, keys: list[tuple[str, str]]) -> tuple[str, str] | None:
    """The first county named in ``text`` (longest match) and the text that named it."""
    for key, code in keys:
        if key in text:
            return code, key
    return None


def _township_keys(units: Units) -> list[tuple[str, str]]:
    tw = units.townships
    keys = []
    for rec in tw.itertuples(index=False):
        for key in {rec.name, *rec.aliases_list}:  # full names: "朝阳" is also a road
            if len(key) >= 2:
                keys.append((key, rec.code))
    return sorted(keys, key=lambda kc: -len(kc[0]))


def _find_township(text: str, county: str | None, keys: list[tuple[str, str]]) -> str | None:
    """The one township named in ``text`` (within ``county`` when known), else None."""
    for key, code in keys:
        if key in text and (county is None or code.startswith(county)):
            same = {c for k, c in keys if k == key and (county is None or c.startswith(county))}
            return code if len(same) == 1 else None
    return None


def _village(
    reg: pd.DataFrame, short: pd.Series, text: str, county: str | None, town: list[str]
) -> str:
    cands = reg[short.eq(village_short_name(text))]
    if county:
        cands = cands[cands["county_code"].eq(county)]
    if len(town) == 1:
        cands = cands[cands["township_code"].eq(town[0])]
    return str(cands["name"].iloc[0]) if len(cands) == 1 else ""


def normalize_places(sites: pd.DataFrame, units: Units) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``sites`` with county, township and village text that assignment can match, and one note
    per change (columns of ``SiteLoad.rejects``). Each distinct place is worked out once."""
    if sites.empty:
        return sites, pd.DataFrame(columns=REJECT_COLUMNS)
    out = sites.copy()
    for col in ("county", "township", "village", "address"):
        if col not in out:
            out[col] = ""
    ctx = _Context(units)
    cols = ["county", "township", "village", "address"]
    texts = out[cols].fillna("").astype(str)
    keys = pd.Series(list(zip(*(texts[c] for c in cols), strict=True)), index=out.index)
    results = {key: ctx.resolve(*key) for key in pd.unique(keys)}
    notes: list[dict] = []
    for idx, key in keys.items():
        new, changes = results[key]
        if not changes:
            continue
        out.loc[idx, ["county", "township", "village"]] = list(new)
        for column, reason, value in changes:
            notes.append(
                {
                    "file": out.at[idx, "file"],
                    "row": out.at[idx, "row"],
                    "column": column,
                    "reason": reason,
                    "value": value,
                }
            )
    if "address" not in sites:
        out = out.drop(columns="address")
    return out, pd.DataFrame(notes, columns=REJECT_COLUMNS)


class _Context:
    """Look-up tables of one set of units, and the rules of :func:`normalize_places`."""

    def __init__(self, units: Units) -> None:
        self.units = units
        self.ckeys = _county_keys(units)
        self.tkeys = _township_keys(units)
        self.reg = units.villages
        self.vnames = set(self.reg["name"])
        self.vshort = self.reg["name"].map(village_short_name)
        self.names = units.townships.set_index("code")["name"]
        self.cnames = units.counties.set_index("code")["name"]

    def resolve(
        self, county: str, township: str, village: str, address: str
    ) -> tuple[tuple[str, str, str], list[_Change]]:
        """The place as assignment can match it, and the changes made (none if it matched)."""
        new_c, code, changes = self._county_step(county)
        new_t = township
        if township and not self.units.resolve_township(township, county_code=code):
            new_t, new_c, code, town_changes = self._township_step(
                township, county_text=new_c, county_code=code
            )
            changes += town_changes
        new_v = village
        if village and village not in self.vnames:
            new_v, village_changes = self._village_step(
                village, township_text=new_t, county_code=code
            )
            changes += village_changes
        if address and not (county or township or village):
            (new_c, new_t, new_v), address_changes = self._address_step(
                address, current=(new_c, new_t, new_v)
            )
            changes += address_changes
        return (new_c, new_t, new_v), changes

    def _county_step(self, county: str) -> tuple[str, str | None, list[_Change]]:
        """County text and code as stated, or of the county named after a province or city
        ("青海省西宁市湟中区") or inside the text, so later steps know the county."""
        code = self.units.resolve_county(county) if county else None
        if not county or code is not None:
            return county, code, []
        found = _find_county(_PREFIX.sub("", county), self.ckeys)
        if not found:
            return county, code, []
        code = found[0]
        new_c = str(self.cnames[code])
        return new_c, code, [("county", f"county '{county}' read as {new_c}", county)]

    def _township_step(
        self, township: str, *, county_text: str, county_code: str | None
    ) -> tuple[str, str, str | None, list[_Change]]:
        """Township text, county text and code for a township that does not match as written:
        a province, city or county in front of it is split off (a county found there also
        gives the county code when none was known)."""
        code = county_code
        rest = _PREFIX.sub("", township)
        found = _find_county(rest, self.ckeys)
        if found and rest.startswith(found[1]):
            rest = rest[len(found[1]) :]
            code = code or found[0]
        town = self.units.resolve_township(rest, county_code=code) if rest else []
        if len(town) != 1:
            return township, county_text, code, []
        new_t = str(self.names[town[0]])
        new_c = county_text or str(self.cnames[town[0][:6]])
        return (
            new_t,
            new_c,
            code,
            [("township", f"township '{township}' read as {new_t}", township)],
        )

    def _village_step(
        self, village: str, *, township_text: str, county_code: str | None
    ) -> tuple[str, list[_Change]]:
        """Village text for a village not in the register as written: its short form, when
        exactly one village of the stated county and township fits."""
        town = (
            self.units.resolve_township(township_text, county_code=county_code)
            if township_text
            else []
        )
        found_v = _village(self.reg, self.vshort, village, county_code, town)
        if not found_v:
            return village, []
        return found_v, [("village", f"village '{village}' read as {found_v}", village)]

    def _address_step(
        self, address: str, *, current: tuple[str, str, str]
    ) -> tuple[tuple[str, str, str], list[_Change]]:
        """County, township and village read from the address of a row that names none of
        them (``current`` is kept where the address does not name one)."""
        new_c, new_t, new_v = current
        place = _PREFIX.sub("", address.replace(" ", ""))
        c_code, t_code = self._address_codes(place)
        parts = []
        if c_code:
            new_c = str(self.cnames[c_code])
            parts.append(new_c)
        if t_code:
            new_t = str(self.names[t_code])
            parts.append(new_t)
            after = place.split(new_t)[-1] if new_t in place else place
            m = re.search(r"([\u4e00-\u9fff]{1,6}?)(村|社区)", after)
            if m:
                new_v = _village(self.reg, self.vshort, m.group(1), c_code, [t_code])
                if new_v:
                    parts.append(new_v)
        if not parts:
            return (new_c, new_t, new_v), []
        reason = "place read from the address: " + " ".join(parts)
        return (new_c, new_t, new_v), [("address", reason, address)]

    def _address_codes(self, place: str) -> tuple[str | None, str | None]:
        """County and township codes named in an address; none unless the address is in a
        county of Xining with no other city or province before it."""
        found = _find_county(place, self.ckeys)
        if found and not re.search(r"[省市州]", place[: place.find(found[1])]):
            return found[0], _find_township(place, found[0], self.tkeys)
        return None, None
