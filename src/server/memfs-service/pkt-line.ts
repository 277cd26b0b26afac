/**
 * Checks the pkt-line framing (gitprotocol-common(5)) of a smart HTTP request body up to its first flush-pkt: the
 * commands of a receive-pack request (a pack follows, not framed) and the wants of an upload-pack one. A body that
 * is not pkt-lines is the client's error (400), decided here before git reports it as a failed process.
 */
import { Transform, type TransformCallback } from 'node:stream';

export class MalformedPktLine extends Error {
  constructor(why: string) {
    super(`malformed pkt-line: ${why}`);
    this.name = 'MalformedPktLine';
  }
}

// LARGE_PACKET_MAX (pkt-line.h): 65516 bytes of data plus the 4-byte length.
const MAX_PKT = 65520;

/** Passes every byte through; fails the stream on a bad length, or on a body that ends before its first flush. */
export function pktLineHead(): Transform {
  let done = false;
  // Bytes still to skip of the current packet's data, and a partial length header carried between chunks.
  let skip = 0;
  let header = '';
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
      let i = 0;
      while (!done && i < chunk.length) {
        if (skip > 0) {
          const n = Math.min(skip, chunk.length - i);
          skip -= n;
          i += n;
          continue;
        }
        const need = 4 - header.length;
        header += chunk.subarray(i, i + need).toString('latin1');
        i += Math.min(need, chunk.length - i);
        if (header.length < 4) break;
        const len = /^[0-9a-f]{4}$/.test(header) ? parseInt(header, 16) : NaN;
        header = '';
        if (Number.isNaN(len)) return cb(new MalformedPktLine('length is not 4 hex digits'));
        if (len === 0) done = true;
        else if (len === 3 || len > MAX_PKT) return cb(new MalformedPktLine(`length ${len}`));
        // 0001 (delim) and 0002 (response end) carry no data.
        else if (len >= 4) skip = len - 4;
      }
      cb(null, chunk);
    },
    flush(cb: TransformCallback) {
      cb(done ? null : new MalformedPktLine('the body ends before its flush-pkt'));
    },
  });
}
