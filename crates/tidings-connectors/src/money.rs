//! Amounts of money as integer minor units, so a deal worth 2,786.08 USD is compared, summed and
//! stored without floating-point error.
//!
//! Platforms send amounts as JSON decimals (Pipedrive `"value": 2786.08`) and expect them back the
//! same way (HubSpot `amount`, Pipedrive `value`). Conversion goes through the number's shortest
//! decimal text, never through multiplication of a float.

use serde::{Deserialize, Serialize};

/// An amount in the currency's minor unit (cents for USD, yen for JPY, fils for KWD).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    /// The amount in minor units.
    pub minor: i64,
    /// ISO 4217 code, upper case.
    pub currency: String,
}

impl Money {
    /// Parses a decimal amount (`"2786.08"`, `"12"`, `"-3.5"`) in `currency`, rounding half away
    /// from zero beyond the currency's minor unit. `None` for text that is not a plain decimal or
    /// an amount too large for `i64` minor units.
    pub fn from_decimal(amount: &str, currency: &str) -> Option<Money> {
        let currency = currency.trim().to_ascii_uppercase();
        let exponent = minor_unit_exponent(&currency);
        let amount = amount.trim();
        let (negative, digits) = match amount.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, amount),
        };
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        if whole.is_empty() && fraction.is_empty() || !whole.chars().chain(fraction.chars()).all(|c| c.is_ascii_digit())
        {
            return None;
        }
        let mut minor: i64 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
        let mut fraction_digits = fraction.chars();
        for _ in 0..exponent {
            let digit = fraction_digits.next().and_then(|c| c.to_digit(10)).unwrap_or(0);
            minor = minor.checked_mul(10)?.checked_add(i64::from(digit))?;
        }
        if fraction_digits.next().and_then(|c| c.to_digit(10)).is_some_and(|d| d >= 5) {
            minor = minor.checked_add(1)?;
        }
        Some(Money { minor: if negative { -minor } else { minor }, currency })
    }

    /// A JSON number as sent by a platform, in `currency`.
    pub fn from_json(value: &serde_json::Number, currency: &str) -> Option<Money> {
        // serde_json prints a float as its shortest round-tripping decimal, so 2786.08 stays "2786.08".
        Money::from_decimal(&value.to_string(), currency)
    }

    /// The amount as a plain decimal with the currency's minor digits (`2786.08`), as CRMs take it.
    pub fn decimal(&self) -> String {
        let exponent = minor_unit_exponent(&self.currency);
        let sign = if self.minor < 0 { "-" } else { "" };
        let magnitude = self.minor.unsigned_abs();
        if exponent == 0 {
            return format!("{sign}{magnitude}");
        }
        let scale = 10u64.pow(exponent);
        format!("{sign}{}.{:0width$}", magnitude / scale, magnitude % scale, width = exponent as usize)
    }

    /// For people: thousands separated, the currency code after (`2,786.08 USD`).
    pub fn display(&self) -> String {
        let decimal = self.decimal();
        let (sign, unsigned) = match decimal.strip_prefix('-') {
            Some(rest) => ("-", rest),
            None => ("", decimal.as_str()),
        };
        let (whole, fraction) = unsigned.split_once('.').map_or((unsigned, None), |(w, f)| (w, Some(f)));
        let mut grouped = String::new();
        for (i, digit) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(digit);
        }
        match fraction {
            Some(fraction) => format!("{sign}{grouped}.{fraction} {}", self.currency),
            None => format!("{sign}{grouped} {}", self.currency),
        }
    }
}

/// How many decimal digits the currency's minor unit has (ISO 4217): 0 for the yen, the won and
/// others without a minor unit in use, 3 for the dinars of Bahrain, Iraq, Jordan, Kuwait, Libya,
/// Oman and Tunisia, 2 for everything else.
pub fn minor_unit_exponent(currency: &str) -> u32 {
    match currency {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX" | "UYI" | "VND"
        | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        _ => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn money(amount: &str, currency: &str) -> Option<i64> {
        Money::from_decimal(amount, currency).map(|m| m.minor)
    }

    #[test]
    fn decimals_become_minor_units_by_the_currency_exponent() {
        assert_eq!(money("2786.08", "usd"), Some(278_608));
        assert_eq!(money("12", "EUR"), Some(1_200));
        assert_eq!(money("0.5", "EUR"), Some(50));
        assert_eq!(money("1500", "JPY"), Some(1_500));
        assert_eq!(money("1.2345", "KWD"), Some(1_235), "rounded half away from zero");
        assert_eq!(money("-3.456", "USD"), Some(-346));
        assert_eq!(money("abc", "USD"), None);
        assert_eq!(money("", "USD"), None);
        assert_eq!(money("99999999999999999999", "USD"), None, "too large");
    }

    #[test]
    fn json_floats_keep_their_decimal_digits() {
        let number = serde_json::Number::from_f64(0.1 + 0.2).expect("finite");
        // 0.30000000000000004 rounds to 30 cents, not 30.000000000000004.
        assert_eq!(Money::from_json(&number, "USD").map(|m| m.minor), Some(30));
        let number = serde_json::Number::from_f64(2786.08).expect("finite");
        assert_eq!(Money::from_json(&number, "USD").map(|m| m.minor), Some(278_608));
    }

    #[test]
    fn formats_for_crms_and_people() {
        let m = Money { minor: 123_456_789, currency: "USD".into() };
        assert_eq!(m.decimal(), "1234567.89");
        assert_eq!(m.display(), "1,234,567.89 USD");
        assert_eq!(Money { minor: 1_500, currency: "JPY".into() }.display(), "1,500 JPY");
        assert_eq!(Money { minor: -5, currency: "EUR".into() }.decimal(), "-0.05");
    }
}
