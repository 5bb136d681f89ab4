"""Small builders of X12 text for tests: write the body with ``*`` and ``:``, get a whole interchange.

Segments are written with the default delimiters (element ``*``, component ``:``, repetition ``^``)
and no terminator; ``interchange`` translates them to the delimiters asked for, counts what the
trailers count, and lets any envelope value be overridden so that malformed inputs are one keyword
away. Segment positions in the result are 1-based: ISA is 1, GS is 2, the first ST is 3.
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
SAMPLES = REPO_ROOT.parent / "shared" / "x12-samples"

IMPL_835 = "005010X221A1"
IMPL_837P = "005010X222A2"

# A small, valid, balanced 835 body (BPR02 900 = claim payments 950 - PLB 50). Positions once wrapped by
# ``interchange``: ST 3, BPR 4, TRN 5, REF*EV 6, DTM 7, N1*PR 8, N3 9, N4 10, PER 11, N1*PE 12, REF 13,
# LX 14, CLP 15, CAS 16, NM1 17, SVC 18, DTM 19, CAS 20, CAS 21, REF*6R 22, AMT 23, CLP 24, SVC 25,
# CAS 26, PLB 27, SE 28.
BODY_835 = (
    "BPR*I*900*C*ACH*CCP*01*011000015*DA*123456789*1512345678**01*021000021*DA*987654321*20260115",
    "TRN*1*EFT0001*1512345678",
    "REF*EV*RECEIVER01",
    "DTM*405*20260114",
    "N1*PR*ACME HEALTH PLAN*XV*PAYER01",
    "N3*1 PAYER WAY",
    "N4*HARTFORD*CT*06101",
    "PER*BL*CLAIMS*TE*8005551212",
    "N1*PE*GOOD CLINIC*XX*1234567893",
    "REF*TJ*123456789",
    "LX*1",
    "CLP*PCN001*1*800*500*100*12*PAYER001*11*1",
    "CAS*OA*23*100",
    "NM1*QC*1*DOE*JANE****MI*MEMBER01",
    "SVC*HC:99213:25*800*600**1",
    "DTM*472*20260105",
    "CAS*PR*1*100",
    "CAS*CO*45*100",
    "REF*6R*LINE001",
    "AMT*B6*700",
    "CLP*PCN002*1*500*450**12*PAYER002*11*1",
    "SVC*HC:99214*500*450**1",
    "CAS*CO*45*50",
    "PLB*1234567893*20261231*WO:REF1*50",
)
# Offsets of some segments in BODY_835 (index into the tuple) and their file positions.
OFFSET = {"BPR": 0, "TRN": 1, "N1PR": 4, "N1PE": 8, "LX": 10, "CLP1": 11, "SVC1": 14, "CLP2": 20, "SVC2": 21,
          "PLB": 23}


def position(offset: int) -> int:
    """File position (ISA = 1) of BODY_835[offset] once wrapped by ``interchange`` with ST at 3."""
    return offset + 4


# A small 837P (005010X222A2) with one claim of one service line, for the fuzz tests.
BODY_837P = (
    "BHT*0019*00*0123*20260105*1023*CH",
    "NM1*41*2*GOOD CLINIC*****46*TGJ23",
    "PER*IC*JERRY*TE*3055552222",
    "NM1*40*2*ACME HEALTH PLAN*****46*66783JJT",
    "HL*1**20*1",
    "NM1*85*2*GOOD CLINIC*****XX*1234567893",
    "N3*123 MAIN STREET",
    "N4*HARTFORD*CT*06101",
    "REF*EI*123456789",
    "HL*2*1*22*0",
    "SBR*P*18*******CI",
    "NM1*IL*1*DOE*JANE****MI*MEMBER01",
    "N3*5 ELM STREET",
    "N4*HARTFORD*CT*06101",
    "DMG*D8*19800101*F",
    "NM1*PR*2*ACME HEALTH PLAN*****PI*PAYER01",
    "CLM*PCN001*800***11:B:1*Y*A*Y*Y",
    "HI*ABK:J020",
    "LX*1",
    "SV1*HC:99213:25*800*UN*1***1",
    "DTP*472*D8*20260105",
)


def translate(segment: str, element: str = "*", component: str = ":", repetition: str = "^") -> str:
    """A segment written with ``*``/``:``/``^`` rewritten with other delimiters."""
    if (element, component, repetition) == ("*", ":", "^"):
        return segment
    table = str.maketrans({"*": element, ":": component, "^": repetition})
    return segment.translate(table)


def transaction(*body: str, st01: str = "835", control: str = "0001", implementation: str = IMPL_835,
                se_count: int | None = None, se_control: str | None = None) -> list[str]:
    """ST + body + SE with the right count (or the count and control number given)."""
    count = len(body) + 2 if se_count is None else se_count
    header = f"ST*{st01}*{control}*{implementation}" if implementation else f"ST*{st01}*{control}"
    return [header, *body, f"SE*{count}*{control if se_control is None else se_control}"]


def isa(control: str = "000000001", element: str = "*", component: str = ":", repetition: str = "^",
        sender: str = "SENDER", receiver: str = "RECEIVER", pad: bool = True, usage: str = "T") -> str:
    """An ISA segment (no terminator); ``pad=False`` leaves the fixed-width fields unpadded."""
    fields = ["ISA", "00", "", "00", "", "ZZ", sender, "ZZ", receiver, "260115", "1200", repetition, "00501",
              control, "0", usage, component]
    if pad:
        fields[2] = fields[4] = " " * 10
        fields[6] = f"{sender:<15}"
        fields[8] = f"{receiver:<15}"
    return element.join(fields)


FUNCTIONAL_IDS = {"835": "HP", "837": "HC", "999": "FA", "276": "HR", "277": "HN", "270": "HS", "271": "HB"}


def functional_group(*segments: str, control: str = "1", functional_id: str = "HP", implementation: str = IMPL_835,
                     ge_count: int | None = None, ge_control: str | None = None) -> list[str]:
    """GS + segments (whole ST..SE sets) + GE counting the ST segments."""
    st_count = sum(1 for segment in segments if segment.startswith("ST*"))
    return [
        f"GS*{functional_id}*SENDER*RECEIVER*20260115*1200*{control}*X*{implementation}",
        *segments,
        f"GE*{st_count if ge_count is None else ge_count}*{control if ge_control is None else ge_control}",
    ]


def interchange_of(*groups: list[str], control: str = "000000001", element: str = "*", component: str = ":",
                   repetition: str = "^", terminator: str = "~", line_break: str = "\n", pad: bool = True,
                   iea_count: int | None = None, iea_control: str | None = None, trailer: bool = True) -> bytes:
    """ISA + functional groups (GS..GE lists) + IEA, with the delimiters asked for, as UTF-8 bytes."""
    lines = [segment for group in groups for segment in group]
    if trailer:
        lines.append(f"IEA*{len(groups) if iea_count is None else iea_count}*"
                     f"{control if iea_control is None else iea_control}")
    text = isa(control, element, component, repetition, pad=pad) + terminator + line_break
    text += "".join(translate(line, element, component, repetition) + terminator + line_break for line in lines)
    return text.encode()


def interchange(
    *segments: str,
    st01: str = "835",
    implementation: str = IMPL_835,
    functional_id: str | None = None,
    element: str = "*",
    component: str = ":",
    repetition: str = "^",
    terminator: str = "~",
    line_break: str = "\n",
    control: str = "000000001",
    group_control: str = "1",
    iea_count: int | None = None,
    iea_control: str | None = None,
    ge_count: int | None = None,
    ge_control: str | None = None,
    pad: bool = True,
    trailers: bool = True,
) -> bytes:
    """A whole interchange of one functional group around ``segments``, as UTF-8 bytes.

    When no segment is an ST, the segments are one transaction body and get ST/SE with the right count;
    otherwise they are used as given (so that broken ST/SE pairs can be written). GE01 counts the ST
    segments, IEA01 is 1; ``trailers=False`` leaves GE and IEA out.
    """
    body = list(segments)
    if not any(segment.startswith("ST*") for segment in body):
        body = transaction(*body, st01=st01, implementation=implementation)
    functional_id = functional_id or FUNCTIONAL_IDS.get(st01, "HP")
    group = functional_group(*body, control=group_control, functional_id=functional_id, implementation=implementation,
                             ge_count=ge_count, ge_control=ge_control)
    if not trailers:
        group.pop()
    return interchange_of(group, control=control, element=element, component=component, repetition=repetition,
                          terminator=terminator, line_break=line_break, pad=pad, iea_count=iea_count,
                          iea_control=iea_control, trailer=trailers)


def replace(body: tuple[str, ...] | list[str], index: int, segment: str) -> list[str]:
    """A copy of ``body`` with the segment at ``index`` replaced (an empty string removes it)."""
    copy = list(body)
    if segment:
        copy[index] = segment
    else:
        del copy[index]
    return copy


def insert(body: tuple[str, ...] | list[str], index: int, *segments: str) -> list[str]:
    """A copy of ``body`` with segments inserted before ``index``."""
    copy = list(body)
    copy[index:index] = segments
    return copy


def sample_files(folder: str = "") -> list[Path]:
    """The public sample files (all folders, or one), sorted; empty when the shared folder is absent."""
    root = SAMPLES / folder if folder else SAMPLES
    if not root.is_dir():
        return []
    return sorted(path for path in root.rglob("*") if path.is_file() and path.suffix != ".md")
