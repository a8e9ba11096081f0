/**
 * Sharing-module hardware revisions. The module reports its revision in HelloResponse and
 * DeviceInfoResponse (`hardware_revision`); firmware images name the revisions they run on.
 */

export type HardwareRevisionId = 'HW-A' | 'HW-B' | 'HW-C';

export interface HardwareRevision {
  id: HardwareRevisionId;
  /** What changed against the previous revision, in words for a technician. */
  changes: string;
  /** Whether the workshop may install, flash and register modules of this revision. */
  supported: boolean;
  /** Why not, when unsupported; what to do instead. */
  unsupportedBecause?: string;
}

export const HARDWARE_REVISIONS: readonly HardwareRevision[] = [
  {
    id: 'HW-A',
    changes: 'Engineering sample: 1 MB flash, no secure element.',
    supported: false,
    unsupportedBecause:
      'Its flash holds only one firmware image (no A/B slots), so a failed update could leave it without a bootable image. Replace it with a current module.',
  },
  {
    id: 'HW-B',
    changes:
      'First series: 2 MB flash with A/B firmware slots; identity key in MCU flash behind read-out protection; LTE-M modem.',
    supported: true,
  },
  {
    id: 'HW-C',
    changes:
      'Identity key moved to a secure element; supply-voltage monitor accurate to ±50 mV; GNSS antenna open/short detection.',
    supported: true,
  },
];

const BY_ID: ReadonlyMap<string, HardwareRevision> = new Map(
  HARDWARE_REVISIONS.map((revision) => [revision.id, revision]),
);

const REVISION_TEXT = /^(?:HW[\s-]?)?([A-Z])$/;

/**
 * The canonical revision id for text as modules and labels write it ("HW-C", "hw-c", "C");
 * undefined for anything else, including revisions this software does not know.
 */
export function parseHardwareRevision(text: string): HardwareRevisionId | undefined {
  const letter = REVISION_TEXT.exec(String(text).trim().toUpperCase())?.[1];
  return letter === undefined ? undefined : BY_ID.get(`HW-${letter}`)?.id;
}

/** The table row for a revision (any spelling parseHardwareRevision accepts). */
export function hardwareRevisionInfo(text: string): HardwareRevision | undefined {
  const id = parseHardwareRevision(text);
  return id === undefined ? undefined : BY_ID.get(id);
}

export function isSupportedHardwareRevision(text: string): boolean {
  return hardwareRevisionInfo(text)?.supported === true;
}
