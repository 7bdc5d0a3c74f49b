//! Amounts between our minor units (ISO 4217 exponents, [`kernel::money`]) and each provider's
//! wire format. A conversion is exact or refused: charging 100× or 1/100 of a price is the
//! classic zero-decimal bug (Paymenter #1258, InvoicePlane #1677).
//!
//! - **Stripe** takes integers in "the smallest unit" with its own table: zero-decimal
//!   currencies take whole units; ISK is zero-decimal in ISO but Stripe still wants two
//!   decimals (always `00`); three-decimal currencies (BHD, JOD, KWD, OMR, TND) take
//!   thousandths whose last digit must be 0. HUF and TWD take two decimals like ISO.
//! - **MercadoPago** takes decimal major units (`10.5`), integers only for CLP and COP.

use kernel::money::{self, Money, MoneyError};

use super::ProviderKind;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error(transparent)]
    Currency(#[from] MoneyError),
    #[error("{provider} cannot carry {amount_minor} minor units of {currency}: {reason}")]
    NotRepresentable {
        provider: ProviderKind,
        amount_minor: i64,
        currency: String,
        reason: &'static str,
    },
    #[error("{provider} sent an amount we cannot read: {text} {currency}")]
    Unreadable {
        provider: ProviderKind,
        text: String,
        currency: String,
    },
}

/// Stripe's zero-decimal currencies (docs.stripe.com/currencies#zero-decimal).
const STRIPE_ZERO_DECIMAL: [&str; 16] = [
    "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV",
    "XAF", "XOF", "XPF",
];
/// Three-decimal currencies whose last digit Stripe requires to be 0.
const STRIPE_THREE_DECIMAL: [&str; 5] = ["BHD", "JOD", "KWD", "OMR", "TND"];
/// Zero-decimal in ISO 4217, two decimals at Stripe (backwards compatibility).
const STRIPE_TWO_DECIMAL_OVERRIDES: [&str; 1] = ["ISK"];
/// MercadoPago takes whole units only.
const MERCADOPAGO_INTEGER: [&str; 2] = ["CLP", "COP"];

/// Stripe's decimals for `code` (upper case) with ISO exponent `iso`.
fn stripe_decimals(code: &str, iso: u32) -> u32 {
    if STRIPE_ZERO_DECIMAL.contains(&code) {
        0
    } else if STRIPE_TWO_DECIMAL_OVERRIDES.contains(&code) {
        2
    } else {
        iso
    }
}

/// `amount` with `from` decimals written with `to` decimals, exactly or not at all.
fn rescale(amount: i64, from: u32, to: u32) -> Option<i64> {
    if to >= from {
        amount.checked_mul(10i64.checked_pow(to - from)?)
    } else {
        let divisor = 10i64.checked_pow(from - to)?;
        (amount % divisor == 0).then(|| amount / divisor)
    }
}

/// Our minor units of `currency` as Stripe's `amount` / `unit_amount`.
pub fn to_stripe(amount_minor: i64, currency: &str) -> Result<i64, AmountError> {
    let parsed = money::currency(currency)?;
    let code = parsed.code();
    let iso = money::exponent(parsed)?;
    let refuse = |reason| AmountError::NotRepresentable {
        provider: ProviderKind::Stripe,
        amount_minor,
        currency: code.to_string(),
        reason,
    };
    let amount = rescale(amount_minor, iso, stripe_decimals(code, iso)).ok_or_else(|| {
        refuse("Stripe takes whole units of this currency; the amount has a fraction")
    })?;
    if STRIPE_THREE_DECIMAL.contains(&code) && amount % 10 != 0 {
        return Err(refuse(
            "Stripe requires the last of three decimals to be 0 for this currency",
        ));
    }
    Ok(amount)
}

/// A Stripe `amount` in `currency` as our minor units.
pub fn from_stripe(amount: i64, currency: &str) -> Result<i64, AmountError> {
    let parsed = money::currency(currency)?;
    let code = parsed.code();
    let iso = money::exponent(parsed)?;
    rescale(amount, stripe_decimals(code, iso), iso).ok_or_else(|| AmountError::Unreadable {
        provider: ProviderKind::Stripe,
        text: amount.to_string(),
        currency: code.to_string(),
    })
}

/// Our minor units of `currency` as MercadoPago's decimal `unit_price` / `amount`.
pub fn to_mercadopago(
    amount_minor: i64,
    currency: &str,
) -> Result<serde_json::Number, AmountError> {
    let parsed = money::currency(currency)?;
    let code = parsed.code();
    let iso = money::exponent(parsed)?;
    let whole = rescale(amount_minor, iso, 0);
    if MERCADOPAGO_INTEGER.contains(&code) || iso == 0 {
        let whole = whole.ok_or(AmountError::NotRepresentable {
            provider: ProviderKind::MercadoPago,
            amount_minor,
            currency: code.to_string(),
            reason: "MercadoPago takes whole units of this currency; the amount has a fraction",
        })?;
        return Ok(serde_json::Number::from(whole));
    }
    // Whole amounts go out as integers (`10`, not `10.0`).
    if let Some(whole) = whole {
        return Ok(serde_json::Number::from(whole));
    }
    // Major units with at most two or three decimals are exact in an f64 at any price a gym
    // charges, and serde_json writes the shortest form that reads back the same (`10.5`).
    let major = Money::new(amount_minor, parsed).to_major();
    major
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .ok_or(AmountError::NotRepresentable {
            provider: ProviderKind::MercadoPago,
            amount_minor,
            currency: code.to_string(),
            reason: "the amount is too large",
        })
}

/// A MercadoPago decimal amount in `currency` as our minor units.
pub fn from_mercadopago(amount: &serde_json::Number, currency: &str) -> Result<i64, AmountError> {
    let parsed = money::currency(currency)?;
    let unreadable = || AmountError::Unreadable {
        provider: ProviderKind::MercadoPago,
        text: amount.to_string(),
        currency: parsed.code().to_string(),
    };
    if let Some(whole) = amount.as_i64() {
        let iso = money::exponent(parsed)?;
        return rescale(whole, 0, iso).ok_or_else(unreadable);
    }
    // `10.5`, `10.50`, `1000.0`: drop trailing zeros so the decimals fit the currency.
    let text = amount.to_string();
    let text = match text.split_once('.') {
        Some((whole, fraction)) => {
            let fraction = fraction.trim_end_matches('0');
            if fraction.is_empty() {
                whole.to_string()
            } else {
                format!("{whole}.{fraction}")
            }
        }
        None => text,
    };
    Money::from_major(&text, parsed)
        .map(|money| money.minor)
        .map_err(|_| unreadable())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (currency, our minor units, Stripe's amount, MercadoPago's amount as JSON)
    const TABLE: &[(&str, i64, i64, &str)] = &[
        ("USD", 1050, 1050, "10.5"),
        ("USD", 1000, 1000, "10"),
        ("EUR", 4599, 4599, "45.99"),
        ("EUR", 1, 1, "0.01"),
        ("JPY", 1000, 1000, "1000"),
        ("BRL", 1990, 1990, "19.9"),
        ("ARS", 1_500_000, 1_500_000, "15000"),
        ("ARS", 123_456, 123_456, "1234.56"),
        ("MXN", 29_950, 29_950, "299.5"),
        ("CLP", 15_000, 15_000, "15000"),
        ("COP", 4_500_000, 4_500_000, "45000"),
    ];

    #[test]
    fn amounts_convert_both_ways_for_each_currency() {
        for &(currency, minor, stripe, mercadopago) in TABLE {
            assert_eq!(
                to_stripe(minor, currency).unwrap(),
                stripe,
                "{currency} {minor}"
            );
            assert_eq!(from_stripe(stripe, currency).unwrap(), minor, "{currency}");
            let wire = to_mercadopago(minor, currency).unwrap();
            let expected: serde_json::Number = mercadopago.parse().unwrap();
            assert_eq!(wire, expected, "{currency} {minor}");
            assert_eq!(
                serde_json::to_string(&wire).unwrap(),
                mercadopago,
                "{currency} {minor} on the wire"
            );
            assert_eq!(
                from_mercadopago(&wire, currency).unwrap(),
                minor,
                "{currency}"
            );
        }
    }

    #[test]
    fn currency_codes_may_be_lower_case_as_stripe_writes_them() {
        assert_eq!(to_stripe(1050, "usd").unwrap(), 1050);
        assert_eq!(from_stripe(1000, "jpy").unwrap(), 1000);
    }

    #[test]
    fn zero_decimal_currencies_are_never_multiplied_by_100() {
        // 1000 yen is 1000 at Stripe, not 100000.
        assert_eq!(to_stripe(1000, "JPY").unwrap(), 1000);
        assert_eq!(to_stripe(15_000, "CLP").unwrap(), 15_000);
        // ISO gives KRW and VND no decimals either.
        assert_eq!(to_stripe(50_000, "KRW").unwrap(), 50_000);
    }

    #[test]
    fn stripe_special_cases() {
        // ISK: whole krónur in ISO, two decimals (always 00) at Stripe.
        assert_eq!(to_stripe(500, "ISK").unwrap(), 50_000);
        assert_eq!(from_stripe(50_000, "ISK").unwrap(), 500);
        assert!(from_stripe(50_050, "ISK").is_err());
        // Three decimals whose last one must be 0.
        assert_eq!(to_stripe(1_250, "KWD").unwrap(), 1_250);
        assert!(matches!(
            to_stripe(1_255, "KWD"),
            Err(AmountError::NotRepresentable { .. })
        ));
        // MGA has two decimals in ISO but is zero-decimal at Stripe: a fraction is refused.
        assert_eq!(to_stripe(100_000, "MGA").unwrap(), 1_000);
        assert!(to_stripe(100_050, "MGA").is_err());
    }

    #[test]
    fn mercadopago_refuses_centavos_of_cop_and_reads_decimal_forms() {
        assert!(matches!(
            to_mercadopago(4_500_050, "COP"),
            Err(AmountError::NotRepresentable { .. })
        ));
        for (text, minor) in [("10.50", 1050), ("10.0", 1000), ("0.1", 10)] {
            let number: serde_json::Number = text.parse().unwrap();
            assert_eq!(from_mercadopago(&number, "BRL").unwrap(), minor, "{text}");
        }
        let clp: serde_json::Number = "15000.0".parse().unwrap();
        assert_eq!(from_mercadopago(&clp, "CLP").unwrap(), 15_000);
        let too_precise: serde_json::Number = "10.505".parse().unwrap();
        assert!(from_mercadopago(&too_precise, "BRL").is_err());
    }

    #[test]
    fn unknown_currencies_are_refused() {
        assert!(matches!(
            to_stripe(100, "XYZ"),
            Err(AmountError::Currency(MoneyError::UnknownCurrency(_)))
        ));
        assert!(to_mercadopago(100, "").is_err());
    }
}
