// Flash throughput over the virtual serial line in real time (timeScale 1): a simulated module
// booted from 1.0.0, the line negotiated up to 921600 baud through the firmware, then 1.1.0 sent
// with the shared FlashSender, once as deflate segments and once uncompressed. Prints, headline
// last:
//   flash-baud                      the rate the line was negotiated to
//   flash-compression-ratio         image bytes over transfer bytes with deflate segments
//   flash-compressed-payload-Bps    image bytes committed per second with deflate
//   flash-effective-compressed      that over the 921600-baud line rate; goal >= 1.5
//   flash-payload-Bps               image bytes committed per second uncompressed
//   flash-efficiency-raw            that over the line rate (92,160 B/s); goal >= 0.90
// Each rate is timed from the first chunk to the last byte committed (flash_begin and flash_end
// not included; the host's deflate of the image takes a few milliseconds before flash_begin).
import { systemClock } from '@mini-sharing/shared-protocol/clock';
import {
  FlashSender,
  ServiceClient,
  type FlashOptions,
} from '@mini-sharing/shared-protocol/service-client';
import { RELEASES, buildFirmwareRelease } from '../../build/src/build-firmware.js';
import { startModuleRig } from '../sim/index.js';

const LINE_RATE = 921_600 / 10;

const update = await buildFirmwareRelease(RELEASES[1]!);
const rig = await startModuleRig({
  factoryImage: await buildFirmwareRelease(RELEASES[0]!),
  timeScale: 1,
  timeoutMs: 2000,
});
try {
  await rig.helloWhen();
  const client = new ServiceClient({
    session: rig.host,
    clock: systemClock,
    host: 'bench',
    setLocalBaudRate: (baudRate) =>
      new Promise<void>((resolve, reject) =>
        rig.port.update({ baudRate }, (error) => (error ? reject(error) : resolve())),
      ),
  });
  const { baud } = await client.connect();

  /** Image bytes committed per second, and the bytes that went on the line. */
  async function timedFlash(options: FlashOptions) {
    let started = 0;
    let finished = 0;
    const result = await new FlashSender(client).flash(update, {
      chunkSize: 4096,
      window: 8,
      activate: false,
      ...options,
      onProgress: (progress) => {
        started ||= performance.now();
        if (progress.bytesCommitted >= progress.total && !finished) finished = performance.now();
      },
    });
    return { bytesPerSecond: update.length / ((finished - started) / 1000), result };
  }

  // both flash_end verify 1.1.0 into slot B without activating it, so each starts the same way
  const deflated = await timedFlash({ compression: 'deflate' });
  if (deflated.result.compression !== 'deflate') throw new Error('the module did not inflate');
  const raw = await timedFlash({ compression: 'none' });
  console.log(`flash-baud ${baud?.baudRate ?? 0}`);
  console.log(
    `flash-compression-ratio ${(update.length / deflated.result.transferSize).toFixed(2)}`,
  );
  console.log(`flash-compressed-payload-Bps ${Math.round(deflated.bytesPerSecond)}`);
  console.log(`flash-effective-compressed ${(deflated.bytesPerSecond / LINE_RATE).toFixed(2)}`);
  console.log(`flash-payload-Bps ${Math.round(raw.bytesPerSecond)}`);
  console.log(`flash-efficiency-raw ${(raw.bytesPerSecond / LINE_RATE).toFixed(2)}`);
} finally {
  await rig.close();
}
