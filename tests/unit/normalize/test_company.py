import pytest

from einklang.normalize import company_key, legal_form


@pytest.mark.parametrize(
    ("name", "form"),
    [
        ("Müller GmbH", "GmbH"),
        ("Müller GmbH & Co. KG", "GmbH & Co. KG"),
        ("Müller GmbH & Co KG", "GmbH & Co. KG"),
        ("Siemens AG", "AG"),
        ("Siemens Aktiengesellschaft", "AG"),
        ("Muster KG", "KG"),
        ("Muster UG (haftungsbeschränkt)", "UG (haftungsbeschränkt)"),
        ("Hans Meier e.K.", "e.K."),
        ("Schmidt & Partner OHG", "OHG"),
        ("TSV Blau-Weiß e.V.", "e.V."),
        ("SAP SE", "SE"),
        ("Acme Ltd", "Ltd"),
        ("Acme Inc.", "Inc"),
        ("Acme LLC", "LLC"),
        ("Schmidt Gesellschaft mit beschränkter Haftung", "GmbH"),
        ("Muster Kommanditgesellschaft", "KG"),
        ("Sportfreunde eingetragener Verein", "e.V."),
        ("Meier GmbH i.L.", "GmbH"),
        ("Bäckerei Saag", None),
        ("GmbH", None),
    ],
)
def test_legal_form(name: str, form: str | None) -> None:
    assert legal_form(name) == form


def test_company_key_strips_legal_forms_and_folds() -> None:
    assert (
        company_key("Müller & Söhne GmbH")
        == company_key("Mueller und Soehne GmbH & Co. KG")
        == company_key("MÜLLER + SÖHNE")
        == company_key("Müller & Söhne Gesellschaft mit beschränkter Haftung")
    )


def test_company_key_of_only_a_legal_form_is_not_empty() -> None:
    assert company_key("GmbH") == "gmbh"


@pytest.mark.parametrize("name", ["Müller & Söhne GmbH", "Siemens AG", "TSV e.V."])
def test_company_key_is_idempotent(name: str) -> None:
    assert company_key(company_key(name)) == company_key(name)
