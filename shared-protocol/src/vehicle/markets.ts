/**
 * Markets the product is sold in: currency, locale, subscription renewal price and call-centre
 * number per market. DESIGN fixes only "49 EUR incl. tax, price per market"; other prices and all
 * call-centre numbers are placeholders (X digits) until the product sets them.
 */

export interface Money {
  /** Amount in the currency's minor unit (cents), tax included. */
  amountMinor: number;
  /** ISO 4217 code. */
  currency: string;
}

export interface Market {
  /** ISO 3166-1 alpha-2. */
  code: string;
  name: string;
  currency: string;
  /** BCP 47 locale for texts, dates and prices shown to customers of this market. */
  locale: string;
  renewalPrice: Money;
  /** Shown in the profile and during an active booking. X digits mark placeholders. */
  callCentrePhone: string;
}

const eur49: Money = { amountMinor: 4900, currency: 'EUR' };

// prettier-ignore
export const MARKETS: readonly Market[] = [
  { code: 'DE', name: 'Germany', currency: 'EUR', locale: 'de-DE', renewalPrice: eur49, callCentrePhone: '+49 89 XXXX XXXX' },
  { code: 'AT', name: 'Austria', currency: 'EUR', locale: 'de-AT', renewalPrice: eur49, callCentrePhone: '+43 1 XXX XXXX' },
  { code: 'NL', name: 'Netherlands', currency: 'EUR', locale: 'nl-NL', renewalPrice: eur49, callCentrePhone: '+31 20 XXX XXXX' },
  { code: 'FR', name: 'France', currency: 'EUR', locale: 'fr-FR', renewalPrice: eur49, callCentrePhone: '+33 1 XX XX XX XX' },
  { code: 'IT', name: 'Italy', currency: 'EUR', locale: 'it-IT', renewalPrice: eur49, callCentrePhone: '+39 02 XXXX XXXX' },
  { code: 'ES', name: 'Spain', currency: 'EUR', locale: 'es-ES', renewalPrice: eur49, callCentrePhone: '+34 91 XXX XX XX' },
  { code: 'CH', name: 'Switzerland', currency: 'CHF', locale: 'de-CH', renewalPrice: { amountMinor: 4900, currency: 'CHF' }, callCentrePhone: '+41 44 XXX XX XX' },
  { code: 'GB', name: 'United Kingdom', currency: 'GBP', locale: 'en-GB', renewalPrice: { amountMinor: 4200, currency: 'GBP' }, callCentrePhone: '+44 20 XXXX XXXX' },
  { code: 'US', name: 'United States', currency: 'USD', locale: 'en-US', renewalPrice: { amountMinor: 4900, currency: 'USD' }, callCentrePhone: '+1 XXX XXX XXXX' },
];

const BY_CODE: ReadonlyMap<string, Market> = new Map(MARKETS.map((m) => [m.code, m]));

/** The market for an ISO 3166-1 alpha-2 code (any case); undefined where the product is not sold. */
export function marketOf(code: string): Market | undefined {
  return BY_CODE.get(String(code).trim().toUpperCase());
}

/** ISO 3166-1 alpha-2 shape (two capital letters); says nothing about the code being assigned. */
export function isCountryCode(text: string): boolean {
  return /^[A-Z]{2}$/.test(text);
}
