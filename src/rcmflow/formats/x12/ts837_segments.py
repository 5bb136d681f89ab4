"""The 837P and 837I segment definitions (005010X222A1 and 005010X223A2), as data.

Registered per transaction type so that they never collide with the 835's narrower tables of the
same ids (CAS, MIA, MOA, LQ, CUR, LX). ``ts837`` imports this module for these registrations.
"""

from __future__ import annotations

from rcmflow.formats.x12.segments import AN, DT, ID, N0, TM, C, R, define

_BOTH = ("837P", "837I")


def _define(seg_id: str, name: str, *elements: tuple, types: tuple[str, ...] = _BOTH) -> None:
    for transaction in types:
        define(seg_id, name, *elements, transaction=transaction)


def _repeat(count: int, *items: tuple) -> list[tuple]:
    return [(f"{name} {n + 1}", *rest) for n in range(count) for name, *rest in items]


# CLM*26463774*100***11:B:1*Y*A*Y*I
_define("CLM", "Health claim",
        ("claim submitter's identifier", AN, True, 1, 38, "1028"),
        ("monetary amount", R, True, 1, 18, "782"),
        ("claim filing indicator code", ID, False, 1, 2, "1032"),
        ("non-institutional claim type code", ID, False, 1, 2, "1343"),
        ("health care service location information", C, True, 1, 80, "C023"),
        ("provider or supplier signature indicator", ID, False, 1, 1, "1073", "NY"),
        ("provider accept assignment code", ID, False, 1, 1, "1359", "ABC"),
        ("benefits assignment certification indicator", ID, True, 1, 1, "1073", "NWY"),
        ("release of information code", ID, True, 1, 1, "1363", "IY"),
        ("patient signature source code", ID, False, 1, 1, "1351"),
        ("related causes information", C, False, 1, 80, "C024"),
        ("special program code", ID, False, 2, 3, "1366"),
        ("yes/no condition or response code", ID, False, 1, 1, "1073"),
        ("level of service code", ID, False, 1, 3, "1338"),
        ("yes/no condition or response code", ID, False, 1, 1, "1073"),
        ("provider agreement code", ID, False, 1, 1, "1360"),
        ("claim status code", ID, False, 1, 2, "1029"),
        ("yes/no condition or response code", ID, False, 1, 1, "1073"),
        ("claim submission reason code", ID, False, 2, 2, "1383"),
        ("delay reason code", ID, False, 1, 2, "1514"))
# SBR*P*18*GRP01020102******CI
_define("SBR", "Subscriber information",
        ("payer responsibility sequence number code", ID, True, 1, 1, "1138", "ABCDEFGHPSTU"),
        ("individual relationship code", ID, False, 2, 2, "1069"),
        ("reference identification", AN, False, 1, 50, "127"),
        ("name", AN, False, 1, 60, "93"),
        ("insurance type code", ID, False, 1, 3, "1336"),
        ("coordination of benefits code", ID, False, 1, 1, "1143"),
        ("yes/no condition or response code", ID, False, 1, 1, "1073"),
        ("employment status code", ID, False, 2, 2, "584"),
        ("claim filing indicator code", ID, False, 1, 2, "1032"))
# PAT*19  and  PAT*******01*155
_define("PAT", "Patient information",
        ("individual relationship code", ID, False, 2, 2, "1069"),
        ("patient location code", ID, False, 1, 1, "1384"),
        ("employment status code", ID, False, 2, 2, "584"),
        ("student status code", ID, False, 1, 1, "1220"),
        ("date time period format qualifier", ID, False, 2, 3, "1250"),
        ("date time period", AN, False, 1, 35, "1251"),
        ("unit or basis for measurement code", ID, False, 2, 2, "355"),
        ("weight", R, False, 1, 10, "81"),
        ("yes/no condition or response code", ID, False, 1, 1, "1073"))
# HI*ABK:J209*ABF:R05  and  HI*BH:A1:D8:19261111*BE:A2:::15.31
_define("HI", "Health care information codes",
        ("health care code information", C, True, 1, 80, "C022"),
        *[(f"health care code information {n}", C, False, 1, 80, "C022") for n in range(2, 13)])
# SV1*HC:99213:25*40*UN*1***1:2
_define("SV1", "Professional service",
        ("composite medical procedure identifier", C, True, 1, 80, "C003"),
        ("monetary amount", R, True, 1, 18, "782"),
        ("unit or basis for measurement code", ID, True, 2, 2, "355"),
        ("quantity", R, True, 1, 15, "380"),
        ("facility code value", AN, False, 1, 2, "1331"),
        ("service type code", ID, False, 1, 2, "1365"),
        ("composite diagnosis code pointer", C, False, 1, 80, "C004"),
        ("monetary amount", R, False, 1, 18, "782"),
        ("emergency indicator", ID, False, 1, 1, "1073"),
        ("multiple procedure code", ID, False, 1, 2, "1340"),
        ("EPSDT indicator", ID, False, 1, 1, "1073"),
        ("family planning indicator", ID, False, 1, 1, "1073"),
        ("review code", ID, False, 1, 2, "1364"),
        ("national or local assigned review value", AN, False, 1, 2, "1341"),
        ("copay status code", ID, False, 1, 1, "1327"),
        ("health care professional shortage area code", ID, False, 1, 1, "1334"),
        ("reference identification", AN, False, 1, 50, "127"),
        ("postal code", ID, False, 3, 15, "116"),
        ("monetary amount", R, False, 1, 18, "782"),
        ("level of care code", ID, False, 1, 1, "1337"),
        ("provider agreement code", ID, False, 1, 1, "1360"), types=("837P",))
# SV2*0305*HC:85025*13.39*UN*1
_define("SV2", "Institutional service line",
        ("product/service id (revenue code)", AN, True, 1, 48, "234"),
        ("composite medical procedure identifier", C, False, 1, 80, "C003"),
        ("monetary amount", R, True, 1, 18, "782"),
        ("unit or basis for measurement code", ID, True, 2, 2, "355"),
        ("quantity", R, True, 1, 15, "380"),
        ("unit rate", R, False, 1, 10, "1371"),
        ("monetary amount", R, False, 1, 18, "782"),
        ("yes/no condition or response code", ID, False, 1, 1, "1073"),
        ("nursing home residential status code", ID, False, 1, 1, "1345"),
        ("level of care code", ID, False, 1, 1, "1337"), types=("837I",))
# SV5*HC:E0431*DA*30*150*1500*4
_define("SV5", "Durable medical equipment service",
        ("composite medical procedure identifier", C, True, 1, 80, "C003"),
        ("unit or basis for measurement code", ID, True, 2, 2, "355"),
        ("quantity", R, True, 1, 15, "380"),
        ("monetary amount", R, False, 1, 18, "782"),
        ("monetary amount", R, False, 1, 18, "782"),
        ("frequency code", ID, False, 1, 1, "594"),
        ("prognosis code", ID, False, 1, 1, "923"), types=("837P",))
# LX*1
_define("LX", "Transaction set line number", ("assigned number", N0, True, 1, 6, "554"))
# CL1*1*7*01
_define("CL1", "Institutional claim code",
        ("admission type code", ID, False, 1, 1, "1315"),
        ("admission source code", ID, False, 1, 1, "1314"),
        ("patient status code", ID, False, 1, 2, "1352"),
        ("nursing home residential status code", ID, False, 1, 1, "1345"), types=("837I",))
# PWK*CT*AA  and  PWK*OZ*BM***AC*DMN0012
_define("PWK", "Paperwork",
        ("report type code", ID, True, 2, 2, "755"),
        ("report transmission code", ID, False, 1, 2, "756"),
        ("report copies needed", N0, False, 1, 2, "757"),
        ("entity identifier code", ID, False, 2, 3, "98"),
        ("identification code qualifier", ID, False, 1, 2, "66"),
        ("identification code", AN, False, 2, 80, "67"),
        ("description", AN, False, 1, 80, "352"),
        ("actions indicated", C, False, 1, 80, "C002"),
        ("request category code", ID, False, 1, 2, "1525"))
# CN1*02*550
_define("CN1", "Contract information",
        ("contract type code", ID, True, 2, 2, "1166"),
        ("monetary amount", R, False, 1, 18, "782"),
        ("percent", R, False, 1, 6, "332"),
        ("reference identification", AN, False, 1, 50, "127"),
        ("terms discount percent", R, False, 1, 6, "338"),
        ("version identifier", AN, False, 1, 30, "799"))
# K3*STATE DATA
_define("K3", "File information",
        ("fixed format information", AN, True, 1, 80, "449"),
        ("record format code", ID, False, 1, 2, "1333"),
        ("composite unit of measure", C, False, 1, 80, "C001"))
# CR1*LB*275**A*DH*21****PATIENT IMOBILIZED
_define("CR1", "Ambulance certification",
        ("unit or basis for measurement code", ID, False, 2, 2, "355"),
        ("weight", R, False, 1, 10, "81"),
        ("ambulance transport code", ID, False, 1, 1, "1316"),
        ("ambulance transport reason code", ID, False, 1, 1, "1317"),
        ("unit or basis for measurement code", ID, False, 2, 2, "355"),
        ("quantity", R, False, 1, 15, "380"),
        ("address information", AN, False, 1, 55, "166"),
        ("address information", AN, False, 1, 55, "166"),
        ("description", AN, False, 1, 80, "352"),
        ("description", AN, False, 1, 80, "352"), types=("837P",))
# CR2********A**CHRONIC PAIN AND DISCOMFORT
_define("CR2", "Chiropractic certification",
        ("count", N0, False, 1, 9, "609"),
        ("quantity", R, False, 1, 15, "380"),
        ("subluxation level code", ID, False, 2, 3, "1367"),
        ("subluxation level code", ID, False, 2, 3, "1367"),
        ("unit or basis for measurement code", ID, False, 2, 2, "355"),
        ("quantity", R, False, 1, 15, "380"),
        ("quantity", R, False, 1, 15, "380"),
        ("nature of condition code", ID, False, 1, 1, "1342"),
        ("yes/no condition or response code", ID, False, 1, 1, "1073"),
        ("description", AN, False, 1, 80, "352"),
        ("description", AN, False, 1, 80, "352"),
        ("yes/no condition or response code", ID, False, 1, 1, "1073"), types=("837P",))
# CR3*R*MO*99
_define("CR3", "Durable medical equipment certification",
        ("certification type code", ID, False, 1, 1, "1322"),
        ("unit or basis for measurement code", ID, False, 2, 2, "355"),
        ("quantity", R, False, 1, 15, "380"),
        ("insulin dependent code", ID, False, 1, 1, "1335"),
        ("description", AN, False, 1, 80, "352"), types=("837P",))
# CRC*07*Y*04*06*09
_define("CRC", "Conditions indicator",
        ("code category", ID, True, 2, 2, "1136"),
        ("yes/no condition or response code", ID, True, 1, 1, "1073"),
        *[(f"condition indicator {n}", ID, n == 1, 2, 3, "1321") for n in range(1, 6)])
# HCP*03*182.88*54.62*123456789
_define("HCP", "Health care pricing",
        ("pricing methodology", ID, True, 2, 2, "1473"),
        ("monetary amount", R, True, 1, 18, "782"),
        ("monetary amount", R, False, 1, 18, "782"),
        ("reference identification", AN, False, 1, 50, "127"),
        ("rate", R, False, 1, 9, "118"),
        ("reference identification", AN, False, 1, 50, "127"),
        ("monetary amount", R, False, 1, 18, "782"),
        ("product/service id", AN, False, 1, 48, "234"),
        ("product/service id qualifier", ID, False, 2, 2, "235"),
        ("product/service id", AN, False, 1, 48, "234"),
        ("unit or basis for measurement code", ID, False, 2, 2, "355"),
        ("quantity", R, False, 1, 15, "380"),
        ("reject reason code", ID, False, 2, 2, "901"),
        ("policy compliance code", ID, False, 1, 2, "1526"),
        ("exception code", ID, False, 1, 2, "1527"))
# OI***Y*P**Y
_define("OI", "Other health insurance information",
        ("claim filing indicator code", ID, False, 1, 2, "1032"),
        ("claim submission reason code", ID, False, 2, 2, "1383"),
        ("benefits assignment certification indicator", ID, False, 1, 1, "1073", "NWY"),
        ("patient signature source code", ID, False, 1, 1, "1351"),
        ("provider agreement code", ID, False, 1, 1, "1360"),
        ("release of information code", ID, False, 1, 1, "1363", "IY"))
# MOA***MA01
_define("MOA", "Medicare outpatient adjudication",
        ("percentage as decimal", R, False, 1, 10, "954"),
        ("monetary amount", R, False, 1, 18, "782"),
        *[(f"reference identification {n}", AN, False, 1, 50, "127") for n in range(3, 8)],
        ("monetary amount", R, False, 1, 18, "782"),
        ("monetary amount", R, False, 1, 18, "782"))
# MIA*0***138.34
_define("MIA", "Medicare inpatient adjudication",
        ("quantity", R, True, 1, 15, "380"),
        *[(f"element {n}", R if n not in (5, 20, 21, 22, 23) else AN, False, 1, 18, "782")
          for n in range(2, 25)], types=("837I",))
# CAS*CO*42*3
_define("CAS", "Claims adjustment",
        ("claim adjustment group code", ID, True, 1, 2, "1033", ("CO", "CR", "OA", "PI", "PR")),
        *[item for n in range(6) for item in (
            (f"claim adjustment reason code {n + 1}", ID, n == 0, 1, 5, "1034"),
            (f"monetary amount {n + 1}", R, n == 0, 1, 18, "782"),
            (f"quantity {n + 1}", R, False, 1, 15, "380"))])
# SVD*999996666*40*HC:99213**1
_define("SVD", "Service line adjudication",
        ("identification code", AN, True, 2, 80, "67"),
        ("monetary amount", R, True, 1, 18, "782"),
        ("composite medical procedure identifier", C, False, 1, 80, "C003"),
        ("product/service id", AN, False, 1, 48, "234"),
        ("quantity", R, False, 1, 15, "380"),
        ("assigned number", N0, False, 1, 6, "554"))
# LIN**N4*00026063512
_define("LIN", "Item identification",
        ("assigned identification", AN, False, 1, 20, "350"),
        ("product/service id qualifier", ID, True, 2, 2, "235"),
        ("product/service id", AN, True, 1, 48, "234"),
        *_repeat(14, ("product/service id qualifier", ID, False, 2, 2, "235"),
                 ("product/service id", AN, False, 1, 48, "234")))
# CTP****10*ML
_define("CTP", "Pricing information",
        ("class of trade code", ID, False, 2, 2, "686"),
        ("price identifier code", ID, False, 3, 3, "236"),
        ("unit price", R, False, 1, 17, "212"),
        ("quantity", R, True, 1, 15, "380"),
        ("composite unit of measure", C, True, 1, 80, "C001"),
        ("price multiplier qualifier", ID, False, 3, 3, "648"),
        ("multiplier", R, False, 1, 10, "649"),
        ("monetary amount", R, False, 1, 18, "782"),
        ("basis of unit price code", ID, False, 2, 2, "639"),
        ("condition value", AN, False, 1, 10, "499"),
        ("multiple price quantity", N0, False, 1, 2, "289"))
# CUR*85*CAD
_define("CUR", "Foreign currency information",
        ("entity identifier code", ID, True, 2, 3, "98"),
        ("currency code", ID, True, 3, 3, "100"),
        ("exchange rate", R, False, 4, 10, "280"),
        ("entity identifier code", ID, False, 2, 3, "98"),
        ("currency code", ID, False, 3, 3, "100"),
        ("currency market/exchange code", ID, False, 3, 3, "669"),
        *_repeat(5, ("date/time qualifier", ID, False, 3, 3, "374"), ("date", DT, False, 8, 8, "373"),
                 ("time", TM, False, 4, 8, "337")))
# MEA*TR*HT*70
_define("MEA", "Measurements",
        ("measurement reference id code", ID, False, 2, 2, "737"),
        ("measurement qualifier", ID, False, 1, 3, "738"),
        ("measurement value", R, False, 1, 20, "739"),
        ("composite unit of measure", C, False, 1, 80, "C001"),
        ("range minimum", R, False, 1, 20, "740"),
        ("range maximum", R, False, 1, 20, "741"),
        ("measurement significance code", ID, False, 2, 2, "935"),
        ("measurement attribute code", ID, False, 2, 2, "936"),
        ("surface/layer/position code", ID, False, 2, 2, "752"),
        ("measurement method or device", ID, False, 2, 4, "1373"),
        ("code list qualifier code", ID, False, 1, 3, "1270"),
        ("industry code", AN, False, 1, 30, "1271"), types=("837P",))
# PS1*PN222222*110
_define("PS1", "Purchase service",
        ("reference identification", AN, True, 1, 50, "127"),
        ("monetary amount", R, True, 1, 18, "782"),
        ("state or province code", ID, False, 2, 2, "156"), types=("837P",))
# LQ*UT*04.03
_define("LQ", "Industry code identification",
        ("code list qualifier code", ID, False, 1, 3, "1270"),
        ("industry code", AN, False, 1, 30, "1271"), types=("837P",))
# FRM*1A**056
_define("FRM", "Supporting documentation",
        ("assigned identification", AN, True, 1, 20, "350"),
        ("yes/no condition or response code", ID, False, 1, 1, "1073"),
        ("reference identification", AN, False, 1, 50, "127"),
        ("date", DT, False, 8, 8, "373"),
        ("percent", R, False, 1, 6, "332"), types=("837P",))

