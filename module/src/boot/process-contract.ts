/** How the boot loader and the firmware process talk: environment in, exit code out. */
export const RUNNING_SLOT_ENV = 'MINI_RUNNING_SLOT';
/** "1" when the firmware runs on trial and must confirm itself. */
export const TRIAL_ENV = 'MINI_TRIAL_BOOT';
/** The firmware exits with this to have the boot loader start again (flash_activate, reset). */
export const REBOOT_EXIT_CODE = 3;
