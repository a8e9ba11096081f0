import { PROTOCOL_VERSION, type HelloResponse } from '../messages/index.js';
import { ProtocolMismatchError } from './errors.js';
import type { RequestOptions, ServiceSession } from './service-session.js';

/**
 * Open a session the way every host must: HELLO, and refuse a module whose protocol major differs.
 */
export async function hello(
  session: ServiceSession,
  host: string,
  options: RequestOptions = {},
): Promise<HelloResponse> {
  const response = await session.request(
    'hello',
    { protocolMajor: PROTOCOL_VERSION.major, protocolMinor: PROTOCOL_VERSION.minor, host },
    options,
  );
  if (response.protocolMajor !== PROTOCOL_VERSION.major) {
    throw new ProtocolMismatchError(
      `The module speaks service-link protocol ${response.protocolMajor}.${response.protocolMinor}; ` +
        `this host speaks ${PROTOCOL_VERSION.major}.${PROTOCOL_VERSION.minor}. ` +
        (response.protocolMajor > PROTOCOL_VERSION.major
          ? 'Update the workshop app.'
          : 'Update the module firmware (recovery flash).'),
    );
  }
  return response;
}
