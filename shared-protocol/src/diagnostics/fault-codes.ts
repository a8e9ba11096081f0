/**
 * The module's fault codes (FaultCode.code on the service link): DTC-shaped ids, a severity, and
 * for each a plain-language text and what to check, in English and German.
 */
import type { SelfTestId } from './self-tests.js';

/**
 * critical: sharing cannot work or is unsafe; error: a function fails; warning: a function is
 * degraded; info: noted, no action needed at the car.
 */
export type FaultSeverity = 'info' | 'warning' | 'error' | 'critical';
export const FAULT_SEVERITIES: readonly FaultSeverity[] = ['info', 'warning', 'error', 'critical'];

export const FAULT_TEXT_LANGUAGES = ['en', 'de'] as const;
export type FaultTextLanguage = (typeof FAULT_TEXT_LANGUAGES)[number];
export type LocalizedText = Readonly<Record<FaultTextLanguage, string>>;

export interface FaultCodeDefinition {
  /** DTC shape: P, C, B or U, a digit 0–3, three hex digits (e.g. "B1C42"). */
  code: string;
  severity: FaultSeverity;
  /** What is wrong. */
  text: LocalizedText;
  /** What the mechanic checks or does. */
  check: LocalizedText;
  /** The self-test that sets it, if one does. */
  selfTestId?: SelfTestId;
}

export const FAULT_CODE_PATTERN = /^[PCBU][0-3][0-9A-F]{3}$/;

export const FAULT_CODES: readonly FaultCodeDefinition[] = [
  {
    code: 'B1C00',
    severity: 'warning',
    selfTestId: 'supply-voltage',
    text: {
      en: 'Supply voltage at the module below 12.0 V.',
      de: 'Versorgungsspannung am Modul unter 12,0 V.',
    },
    check: {
      en: "Check the state of charge of the vehicle battery and connect a charger; check the module's power connector and fuse.",
      de: 'Ladezustand der Fahrzeugbatterie prüfen und Ladegerät anschließen; Stromanschluss und Sicherung des Moduls prüfen.',
    },
  },
  {
    code: 'B1C01',
    severity: 'error',
    selfTestId: 'supply-voltage',
    text: {
      en: 'Supply voltage at the module above 15.0 V.',
      de: 'Versorgungsspannung am Modul über 15,0 V.',
    },
    check: {
      en: "Check the charger's setting and the car's charging system (alternator or DC/DC converter).",
      de: 'Einstellung des Ladegeräts und das Ladesystem des Fahrzeugs (Generator bzw. DC/DC-Wandler) prüfen.',
    },
  },
  {
    code: 'U1C10',
    severity: 'critical',
    selfTestId: 'vehicle-bus',
    text: {
      en: 'No communication with the car over the 5GE sharing interface.',
      de: 'Keine Kommunikation mit dem Fahrzeug über die Carsharing-Schnittstelle (5GE).',
    },
    check: {
      en: "Check the module's vehicle connector and the bus wiring; check that option 5GE is coded in the car.",
      de: 'Fahrzeugstecker des Moduls und Busleitungen prüfen; prüfen, ob die Option 5GE im Fahrzeug codiert ist.',
    },
  },
  {
    code: 'U1C11',
    severity: 'critical',
    selfTestId: 'vehicle-bus',
    text: {
      en: "The VIN read from the car differs from the VIN in the module's certificate.",
      de: 'Die aus dem Fahrzeug gelesene FIN weicht von der FIN im Modulzertifikat ab.',
    },
    check: {
      en: 'The module comes from another car. Do not use it as it is: factory-reset it and provision it for this car with the workshop app.',
      de: 'Das Modul stammt aus einem anderen Fahrzeug. So nicht verwenden: mit der Werkstatt-App auf Werkseinstellungen zurücksetzen und für dieses Fahrzeug neu einrichten.',
    },
  },
  {
    code: 'B1C20',
    severity: 'error',
    selfTestId: 'central-lock-actuation',
    text: {
      en: 'The central locking did not confirm a lock or unlock command within 1.5 s.',
      de: 'Die Zentralverriegelung hat einen Ver- oder Entriegelungsbefehl nicht innerhalb von 1,5 s bestätigt.',
    },
    check: {
      en: "Check that all doors, the tailgate and the bonnet are closed; try the central locking with the car key; read the car's own fault memory.",
      de: 'Prüfen, ob alle Türen, Heckklappe und Motorhaube geschlossen sind; Zentralverriegelung mit dem Fahrzeugschlüssel prüfen; Fehlerspeicher des Fahrzeugs auslesen.',
    },
  },
  {
    code: 'B1C21',
    severity: 'critical',
    selfTestId: 'immobilizer-handshake',
    text: {
      en: "The car's immobilizer rejected the module's authentication.",
      de: 'Die Wegfahrsperre des Fahrzeugs hat die Authentisierung des Moduls abgelehnt.',
    },
    check: {
      en: 'Check that the module is registered for this VIN and repeat the immobilizer test; if it fails again, contact the technical hotline.',
      de: 'Prüfen, ob das Modul für diese FIN registriert ist, und den Wegfahrsperren-Test wiederholen; schlägt er erneut fehl, technische Hotline kontaktieren.',
    },
  },
  {
    code: 'B1C40',
    severity: 'critical',
    selfTestId: 'ble-radio',
    text: {
      en: 'The Bluetooth radio does not start.',
      de: 'Das Bluetooth-Funkmodul startet nicht.',
    },
    check: {
      en: 'Restart the module by disconnecting its power for 10 s; if the fault comes back, replace the module.',
      de: 'Modul neu starten (Stromversorgung 10 s trennen); tritt der Fehler wieder auf, Modul tauschen.',
    },
  },
  {
    code: 'B1C42',
    severity: 'warning',
    selfTestId: 'ble-radio',
    text: {
      en: 'Weak Bluetooth signal: the workshop tester was received below -75 dBm at 1 m.',
      de: 'Schwaches Bluetooth-Signal: Werkstatt-Tester in 1 m Abstand unter -75 dBm empfangen.',
    },
    check: {
      en: 'Check the Bluetooth antenna cable and its routing; do not mount the module directly against metal.',
      de: 'Bluetooth-Antennenkabel und dessen Verlegung prüfen; Modul nicht direkt an Metallteilen montieren.',
    },
  },
  {
    code: 'B1C50',
    severity: 'warning',
    selfTestId: 'gnss-fix',
    text: {
      en: 'GNSS antenna open circuit or short circuit.',
      de: 'GNSS-Antenne: Leitungsunterbrechung oder Kurzschluss.',
    },
    check: {
      en: 'Check the GNSS antenna connector and cable.',
      de: 'Stecker und Kabel der GNSS-Antenne prüfen.',
    },
  },
  {
    code: 'B1C51',
    severity: 'info',
    selfTestId: 'gnss-fix',
    text: {
      en: 'No satellite position within 120 s.',
      de: 'Keine Satellitenposition innerhalb von 120 s.',
    },
    check: {
      en: 'Repeat the test with the car outside, with a clear view of the sky.',
      de: 'Test mit dem Fahrzeug im Freien und freier Sicht zum Himmel wiederholen.',
    },
  },
  {
    code: 'U1C60',
    severity: 'warning',
    selfTestId: 'cellular-link',
    text: {
      en: 'The module cannot register with the mobile network.',
      de: 'Das Modul kann sich nicht im Mobilfunknetz anmelden.',
    },
    check: {
      en: 'Check mobile coverage at the car and the mobile antenna. Keys still work; bookings and revocations reach the car only when it has coverage.',
      de: 'Mobilfunkempfang am Fahrzeug und Mobilfunkantenne prüfen. Schlüssel funktionieren weiter; Buchungen und Sperrungen erreichen das Fahrzeug aber nur bei Empfang.',
    },
  },
  {
    code: 'U1C61',
    severity: 'info',
    selfTestId: 'cellular-link',
    text: {
      en: 'The module has mobile network but cannot reach the sharing cloud.',
      de: 'Das Modul hat Mobilfunknetz, erreicht aber die Sharing-Cloud nicht.',
    },
    check: {
      en: 'Nothing to do at the car. If it lasts longer than a day, contact the technical hotline.',
      de: 'Keine Maßnahme am Fahrzeug nötig. Dauert es länger als einen Tag, technische Hotline kontaktieren.',
    },
  },
  {
    code: 'B1C70',
    severity: 'critical',
    selfTestId: 'secure-storage',
    text: {
      en: "The module's identity key cannot be used: the secure key storage failed its self-check.",
      de: 'Der Identitätsschlüssel des Moduls ist nicht nutzbar: der sichere Schlüsselspeicher hat die Selbstprüfung nicht bestanden.',
    },
    check: {
      en: 'Replace the module; do not provision it again.',
      de: 'Modul tauschen; nicht erneut einrichten.',
    },
  },
  {
    code: 'B1C71',
    severity: 'warning',
    text: {
      en: 'A firmware update did not confirm after its test boot and was rolled back.',
      de: 'Ein Firmware-Update hat sich nach dem Teststart nicht bestätigt und wurde zurückgesetzt.',
    },
    check: {
      en: 'Flash the firmware again with the workshop app, with a charger connected to the car.',
      de: 'Firmware mit der Werkstatt-App erneut aufspielen, mit angeschlossenem Ladegerät.',
    },
  },
];

const BY_CODE: ReadonlyMap<string, FaultCodeDefinition> = new Map(
  FAULT_CODES.map((f) => [f.code, f]),
);

/** The catalogue entry for a code (any case); undefined for codes this software does not know. */
export function faultCodeDefinition(code: string): FaultCodeDefinition | undefined {
  return BY_CODE.get(String(code).trim().toUpperCase());
}

/**
 * Text and advice for a code in a language, also for codes newer than this software (a module
 * with newer firmware reports codes the app does not know yet).
 */
export function describeFaultCode(
  code: string,
  language: FaultTextLanguage,
): { severity: FaultSeverity | undefined; text: string; check: string } {
  const known = faultCodeDefinition(code);
  if (known !== undefined) {
    return { severity: known.severity, text: known.text[language], check: known.check[language] };
  }
  const shown = FAULT_CODE_PATTERN.test(String(code).trim().toUpperCase())
    ? String(code).trim().toUpperCase()
    : '(malformed)';
  return language === 'de'
    ? {
        severity: undefined,
        text: `Unbekannter Fehlercode ${shown}.`,
        check: 'Werkstatt-App aktualisieren, um Beschreibung und Prüfhinweis zu sehen.',
      }
    : {
        severity: undefined,
        text: `Unknown fault code ${shown}.`,
        check: 'Update the workshop app to see what it means and what to check.',
      };
}
