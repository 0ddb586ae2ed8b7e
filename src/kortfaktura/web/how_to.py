"""The "Så gör du" box: a few steps at the top of each page, collapsed, for whoever stopped.

The steps are keyed by the page's URL name; a detail page without its own steps falls back to
its section's (the list it belongs to). A Kund sees the pages differently (only its own
organisation, nothing to change), so the pages a Kund reaches have their own steps. docs/web.md
has the longer guide per role.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class HowTo:
    steps: tuple[str, ...]
    kund: tuple[str, ...] = ()  # what a Kund reads instead; () = the page is not a Kund's


STEPS: dict[str, HowTo] = {
    "overview": HowTo(
        steps=(
            "Rutorna visar vad som väntar på en person: en körning att utfärda, ändringar att "
            "besluta om, leveranser som misslyckades, betalningar utan faktura.",
            "Månadens gång: Import → Körningar (utkast) → Ekonomi utfärdar → Leveranser → "
            "Bokföring (SIE) → Betalningar och Kundreskontra.",
            "Klicka på en siffra för att komma till det den räknar.",
        ),
        kund=(
            "Här ser du din organisations fakturor och beställningar, inget annat.",
            "Klicka på ett fakturanummer för att se fakturan, ladda ned den som PDF, "
            "e-faktura (UBL), Excel eller CSV och se vilka beställningar den tar betalt för.",
            "Frågor om en faktura: kontakta GITS och ange fakturanumret.",
        ),
    ),
    "imports": HowTo(
        steps=(
            "Välj vad filen innehåller (beställningar, kunder, priser eller tidigare fakturerat) "
            "och välj filen (CSV eller XLSX, rubrikrad först).",
            "Tryck Läs in filen. Samma fil två gånger ändrar ingenting.",
            "Rader som inte kan läsas in hålls i karantän med en orsak: rätta källfilen och läs in "
            "den igen. Inget annat i filen går förlorat.",
            "Ändrar filen en redan fakturerad beställning väntar ändringen under Ändringar.",
        ),
    ),
    "customers": HowTo(
        steps=(
            "Sök på namn eller organisationsnummer.",
            "En kund utan Peppol-id, e-post eller postadress får sina fakturor tillbakahållna "
            "med orsak: öppna kunden och rätta mottagaren.",
            "Kunder och mottagare läses oftast in som fil under Import.",
        ),
    ),
    "prices": HowTo(
        steps=(
            "Nytt pris: välj artikel, à-pris och första beställningsdag. Priset som gäller "
            "tills vidare slutar dagen före, i samma steg.",
            "Ett datum som skulle ge en redan fakturerad beställning ett annat pris avvisas; "
            "tabellen visar tidigast möjliga dag per artikel.",
            "En artikel utan pris hålls tillbaka tills ett pris finns.",
        ),
    ),
    "orders": HowTo(
        steps=(
            "Sök på beställningsnummer (början räcker), kortinnehavare eller HSA-id.",
            "Status visar om beställningen är fakturerad, ännu inte fakturerad eller "
            "tillbakahållen – och varför.",
            "En tillbakahållen beställning faktureras av nästa körning när orsaken är rättad.",
        ),
        kund=(
            "Din organisations beställda kort. Sök på beställningsnummer, kortinnehavare eller "
            "HSA-id.",
            "Fakturanumret leder till fakturan som tog betalt för beställningen.",
        ),
    ),
    "runs": HowTo(
        steps=(
            "En körning görs av Fakturering: perioden (beställningsdatum) förhandsgranskas "
            "först, och inget sparas förrän utkastet skapas.",
            "Utkastet granskas här; Ekonomi utfärdar det (en annan person än den som skapade det).",
            "Fel i utkastet? Rätta uppgifterna, gör om utkastet eller kasta det. Utfärdade "
            "fakturor ändras aldrig – de krediteras.",
        ),
    ),
    "invoices": HowTo(
        steps=(
            "Sök på nummer, OCR-nummer, kund eller belopp och filtrera på typ, datum eller "
            "beställningsmånad.",
            "Öppna en faktura för att se dess beställningar, leveranser, betalningar och hämta "
            "den som PDF, UBL, Excel eller CSV.",
            "Fel på en utfärdad faktura: kreditera den (helt eller vissa beställningar) från "
            "fakturans sida.",
        ),
        kund=(
            "Din organisations fakturor och kreditfakturor. Sök på nummer, OCR-nummer eller "
            "belopp.",
            "Öppna en faktura för att hämta den som PDF, e-faktura (UBL), Excel eller CSV.",
        ),
    ),
    "invoice": HowTo(
        steps=(
            "Hämta dokumentet som PDF, UBL, Excel eller CSV; specifikationen visar varje "
            "beställning.",
            "Leveranser och betalningar till fakturan står längre ned.",
            "Fel på fakturan: kreditera den hel eller för vissa beställningar. En bestridd faktura "
            "markeras här och påminns inte.",
        ),
        kund=(
            "Hämta fakturan som PDF, e-faktura (UBL), Excel eller CSV.",
            "Specifikationen visar varje beställning som fakturan tar betalt för.",
        ),
    ),
    "run": HowTo(
        steps=(
            "Kontrollera summorna, dokumenten och de tillbakahållna beställningarna.",
            "Ekonomi utfärdar utkastet – en annan person än den som skapade det.",
            "Efter utfärdandet: leverera fakturorna under Leveranser.",
        ),
    ),
    "order": HowTo(
        steps=(
            "Beställningens uppgifter, dess historik och fakturan som tog betalt för den.",
            "Tillbakahållen: orsaken står här; rätta uppgiften (kund, pris, mottagare) så "
            "faktureras den av nästa körning.",
        ),
        kund=("Beställningens uppgifter och fakturan som tog betalt för den.",),
    ),
    "import": HowTo(
        steps=(
            "Raderna i karantän visar radnummer och orsak.",
            "Rätta källfilen och läs in hela filen igen; rader som redan lästs in ändras inte.",
        ),
    ),
    "changes": HowTo(
        steps=(
            "Välj ändringarna och skriv en orsak.",
            "Godkänn: beställningen krediteras och nästa körning fakturerar den med de nya "
            "uppgifterna. Avvisa: fakturan står kvar.",
        ),
    ),
    "deliveries": HowTo(
        steps=(
            "Leverera en utfärdad körning eller enskilda fakturor: Peppol, e-post eller utskrift, "
            "efter mottagarens kanal.",
            "Misslyckade och osäkra leveranser listas först, med orsak. Rätta mottagaren och "
            "skicka om; en osäker leverans kan redan ha kommit fram – fråga mottagaren först.",
        ),
    ),
    "payments": HowTo(
        steps=(
            "Läs in bankens fil (BgMax eller camt.054). Betalningar matchas på OCR- eller "
            "fakturanummer, aldrig på belopp.",
            "En betalning utan faktura kopplas till rätt faktura eller återbetalas, med "
            "motivering.",
        ),
    ),
    "receivables": HowTo(
        steps=(
            "Öppna belopp per faktura och kund, med förfallodag och dagar sena.",
            "Bestridda fakturor påminns inte. Påminnelser skickas av kommandot remind.",
        ),
    ),
    "review": HowTo(
        steps=(
            "Rubriken räknar upp allt som behöver en person; grönt först när inget gör det.",
            "Varje avsnitt visar avvikelserna med länkar; ladda ned rapporten för revisorn.",
            "Uppdatera genomlysningen efter en import eller körning.",
        ),
    ),
    "bookkeeping": HowTo(
        steps=(
            "Den föreslagna perioden håller det som inte exporterats än. Tryck Granska exporten.",
            "Granskningen visar antalet verifikationer och om perioden överlappar en tidigare "
            "export – innan någon fil skrivs.",
            "Att exportera en period igen kräver en orsak. Läs in filen i ekonomisystemet.",
        ),
    ),
    "audit": HowTo(
        steps=(
            "Allt som ändrar något loggas: vem, när och vad. Loggen kan inte ändras i efterhand.",
            "Filtrera på händelse, användare eller tid; exportera listan till Excel eller CSV.",
        ),
    ),
    "users": HowTo(
        steps=(
            "Ny användare: välj roll (och för en Kund organisationen).",
            "En användare som slutat inaktiveras, tas inte bort – loggen behåller namnet.",
            "API-nycklar skapas på användarens sida och visas en gång.",
        ),
    ),
}


def steps_for(url_name: str | None, section: str | None, kund: bool) -> tuple[str, ...]:
    """The steps for a page (its own, else its section's); () when there are none for the
    reader."""
    for name in (url_name, section):
        how_to = STEPS.get(name or "")
        if how_to is not None:
            return how_to.kund if kund else how_to.steps
    return ()
