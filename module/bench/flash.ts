// Flash throughput over the virtual serial line in real time (timeScale 1): a simulated module
// booted from 1.0.0, the line negotiated up to 921600 baud through the firmware, then 1.1.0 sent
// uncompressed with the shared FlashSender. Prints, headline last:
//   flash-baud                  the rate the line was negotiated to
//   flash-payload-Bps           image bytes committed per second during the transfer
//   flash-efficiency-raw        that over the 921600-baud line rate (92,160 B/s); goal >= 0.90
import { systemClock } from '@mini-sharing/shared-protocol/clock';
import { FlashSender, ServiceClient } from '@mini-sharing/shared-protocol/service-client';
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
  let started = 0;
  let finished = 0;
  await new FlashSender(client).flash(update, {
    chunkSize: 4096,
    window: 8,
    activate: false,
    onProgress: (progress) => {
      started ||= performance.now();
      if (progress.bytesCommitted >= progress.total && !finished) finished = performance.now();
    },
  });
  const seconds = (finished - started) / 1000;
  const bytesPerSecond = update.length / seconds;
  console.log(`flash-baud ${baud?.baudRate ?? 0}`);
  console.log(`flash-payload-Bps ${Math.round(bytesPerSecond)}`);
  console.log(`flash-efficiency-raw ${(bytesPerSecond / LINE_RATE).toFixed(2)}`);
} finally {
  await rig.close();
}
