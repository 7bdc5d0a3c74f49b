//! Money: an integer number of minor units of an ISO 4217 currency. Never a float. The
//! currency's exponent (its number of decimals: 2 for EUR, 0 for JPY and CLP, 3 for KWD and
//! BHD) comes from the ISO table, and conversions to and from providers' decimal strings in
//! major units are exact or refused.

use std::fmt;

use iso_currency::Currency;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    /// In the currency's minor units: cents for EUR, yen for JPY, fils for KWD.
    pub minor: i64,
    pub currency: Currency,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("`{0}` is not an ISO 4217 currency code")]
    UnknownCurrency(String),
    #[error("{0} has no minor unit, so it cannot price anything")]
    NoMinorUnit(Currency),
    #[error("`{text}` is not an amount in {currency} (at most {decimals} decimals)")]
    Malformed {
        text: String,
        currency: Currency,
        decimals: u32,
    },
    #[error("the amount is too large")]
    Overflow,
    #[error("cannot combine {0} with {1}")]
    CurrencyMismatch(Currency, Currency),
}

/// Decimals of `currency`'s minor unit; an error for codes without one (gold, test codes).
pub fn exponent(currency: Currency) -> Result<u32, MoneyError> {
    currency
        .exponent()
        .map(u32::from)
        .ok_or(MoneyError::NoMinorUnit(currency))
}

/// A currency by code, case-insensitively, refusing codes without a minor unit.
pub fn currency(code: &str) -> Result<Currency, MoneyError> {
    let currency = Currency::from_code(&code.to_ascii_uppercase())
        .ok_or_else(|| MoneyError::UnknownCurrency(code.to_string()))?;
    exponent(currency)?;
    Ok(currency)
}

impl Money {
    pub fn new(minor: i64, currency: Currency) -> Self {
        Self { minor, currency }
    }

    pub fn zero(currency: Currency) -> Self {
        Self::new(0, currency)
    }

    /// Parses a decimal amount in major units as providers write it: `"10.5"` EUR is 1050
    /// cents, `"1000"` JPY is 1000 yen, `"1.250"` KWD is 1250 fils. More decimals than the
    /// currency has, exponents, signs other than a leading `-`, and empty parts are refused.
    pub fn from_major(text: &str, currency: Currency) -> Result<Self, MoneyError> {
        let decimals = exponent(currency)?;
        let malformed = || MoneyError::Malformed {
            text: text.to_string(),
            currency,
            decimals,
        };
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        let all_digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty()
            || !all_digits(whole)
            || !all_digits(fraction)
            || (digits.contains('.') && fraction.is_empty())
            || fraction.len() > decimals as usize
        {
            return Err(malformed());
        }
        let scale = 10i64.pow(decimals);
        let whole: i64 = whole.parse().map_err(|_| MoneyError::Overflow)?;
        let fraction: i64 = if fraction.is_empty() {
            0
        } else {
            let padded = format!("{fraction:0<width$}", width = decimals as usize);
            padded.parse().map_err(|_| malformed())?
        };
        let minor = whole
            .checked_mul(scale)
            .and_then(|value| value.checked_add(fraction))
            .ok_or(MoneyError::Overflow)?;
        Ok(Self::new(if negative { -minor } else { minor }, currency))
    }

    /// The amount in major units with exactly the currency's decimals: `"10.50"`, `"1000"`,
    /// `"1.250"`.
    pub fn to_major(&self) -> String {
        let decimals = self.currency.exponent().map_or(0, u32::from);
        let sign = if self.minor < 0 { "-" } else { "" };
        let magnitude = self.minor.unsigned_abs();
        if decimals == 0 {
            return format!("{sign}{magnitude}");
        }
        let scale = 10u64.pow(decimals);
        format!(
            "{sign}{}.{:0width$}",
            magnitude / scale,
            magnitude % scale,
            width = decimals as usize
        )
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let minor = self
            .minor
            .checked_add(other.minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::new(minor, self.currency))
    }

    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let minor = self
            .minor
            .checked_sub(other.minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::new(minor, self.currency))
    }

    fn same_currency(self, other: Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch(self.currency, other.currency))
        }
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.to_major(), self.currency.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(text: &str) -> Currency {
        currency(text).unwrap_or_else(|err| panic!("{err}"))
    }

    #[test]
    fn exponents_come_from_the_iso_table() {
        for (text, decimals) in [
            ("EUR", 2),
            ("USD", 2),
            ("ARS", 2),
            ("BRL", 2),
            ("JPY", 0),
            ("CLP", 0),
            ("KRW", 0),
            ("VND", 0),
            ("PYG", 0),
            ("KWD", 3),
            ("BHD", 3),
            ("JOD", 3),
            ("OMR", 3),
            ("TND", 3),
            ("CLF", 4),
        ] {
            assert_eq!(exponent(code(text)), Ok(decimals), "{text}");
        }
    }

    #[test]
    fn codes_are_read_case_insensitively_and_checked() {
        assert_eq!(code("eur"), Currency::EUR);
        assert_eq!(
            currency("EURO"),
            Err(MoneyError::UnknownCurrency("EURO".into()))
        );
        assert_eq!(currency("XAU"), Err(MoneyError::NoMinorUnit(Currency::XAU)));
    }

    #[test]
    fn major_unit_strings_convert_exactly() {
        for (text, currency, minor) in [
            ("10.50", "EUR", 1050),
            ("10.5", "EUR", 1050),
            ("10", "EUR", 1000),
            ("0.01", "USD", 1),
            ("0", "USD", 0),
            ("-3.20", "EUR", -320),
            ("1000", "JPY", 1000),
            ("1500", "CLP", 1500),
            ("1.250", "KWD", 1250),
            ("0.005", "BHD", 5),
            ("92233720368547758.07", "EUR", i64::MAX),
        ] {
            assert_eq!(
                Money::from_major(text, code(currency)),
                Ok(Money::new(minor, code(currency))),
                "{text} {currency}"
            );
        }
    }

    #[test]
    fn malformed_or_too_precise_amounts_are_refused() {
        for (text, currency) in [
            ("10.505", "EUR"),
            ("1000.5", "JPY"),
            ("1.2345", "KWD"),
            ("", "EUR"),
            (".5", "EUR"),
            ("5.", "EUR"),
            ("+5", "EUR"),
            ("1e3", "EUR"),
            ("1,50", "EUR"),
            (" 1", "EUR"),
            ("--1", "EUR"),
            ("0x10", "EUR"),
        ] {
            assert!(
                matches!(
                    Money::from_major(text, code(currency)),
                    Err(MoneyError::Malformed { .. })
                ),
                "{text:?} {currency}"
            );
        }
        assert_eq!(
            Money::from_major("92233720368547758.08", code("EUR")),
            Err(MoneyError::Overflow)
        );
    }

    #[test]
    fn minor_units_print_with_the_currencys_decimals() {
        for (minor, currency, text) in [
            (1050, "EUR", "10.50"),
            (5, "EUR", "0.05"),
            (-320, "EUR", "-3.20"),
            (1000, "JPY", "1000"),
            (1250, "KWD", "1.250"),
            (7, "BHD", "0.007"),
            (0, "USD", "0.00"),
            (i64::MIN, "EUR", "-92233720368547758.08"),
        ] {
            assert_eq!(Money::new(minor, code(currency)).to_major(), text);
        }
        assert_eq!(Money::new(4500, code("EUR")).to_string(), "45.00 EUR");
    }

    #[test]
    fn arithmetic_keeps_the_currency_and_refuses_to_mix() {
        let eur = |minor| Money::new(minor, Currency::EUR);
        assert_eq!(eur(1000).checked_add(eur(50)), Ok(eur(1050)));
        assert_eq!(eur(1000).checked_sub(eur(1050)), Ok(eur(-50)));
        assert_eq!(
            eur(1).checked_add(Money::new(1, Currency::JPY)),
            Err(MoneyError::CurrencyMismatch(Currency::EUR, Currency::JPY))
        );
        assert_eq!(eur(i64::MAX).checked_add(eur(1)), Err(MoneyError::Overflow));
    }
}
