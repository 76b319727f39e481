/**
 * Messages on the wire, beside the bytes. `@libp2p/prometheus-metrics`
 * counts bytes per connection (`global`) and per protocol stream in
 * `libp2p_data_transfer_bytes_total`; this wrapper counts the writes and
 * reads of the same streams in `libp2p_data_transfer_messages_total`, with
 * the same labels (`global sent`, `/meshsub/1.2.0 received`, …). A protocol
 * stream's write is one application message (a gossipsub RPC, a DHT query, a
 * token frame); a read is what the muxer delivered at once, so under load
 * several small messages may arrive as one. The cost benchmark reads both
 * from `/metrics`.
 */
import type { Metrics, MultiaddrConnection, Stream } from '@libp2p/interface'

export const MESSAGES_METRIC = 'libp2p_data_transfer_messages_total'

type Counted = Pick<Stream, 'dispatchEvent' | 'send'> | Pick<MultiaddrConnection, 'dispatchEvent' | 'send'>

/** Wrap a libp2p metrics factory so that every tracked connection and stream also counts its messages. */
export function withMessageCounts<C> (factory: (components: C) => Metrics): (components: C) => Metrics {
  return (components) => {
    const inner = factory(components)
    // counted here and added to the prometheus counter at each scrape, as the byte counts are
    const counts = new Map<string, number>()
    const add = (key: string): void => { counts.set(key, (counts.get(key) ?? 0) + 1) }
    inner.registerCounterGroup(MESSAGES_METRIC, {
      label: 'protocol',
      help: 'stream writes (sent) and deliveries (received) per protocol; global: the connection itself',
      calculate: () => {
        const out = Object.fromEntries(counts)
        counts.clear()
        return out
      }
    })
    const track = (stream: Counted, name: string): void => {
      // as prometheus-metrics does: observe dispatched message events without adding a listener
      const dispatchEvent = stream.dispatchEvent.bind(stream)
      stream.dispatchEvent = (evt: Event) => {
        if (evt.type === 'message') {
          add(`${name} received`)
        }
        return dispatchEvent(evt)
      }
      const send = stream.send.bind(stream) as (buf: any) => boolean
      stream.send = (buf: any) => {
        add(`${name} sent`)
        return send(buf)
      }
    }
    return new Proxy(inner, {
      get (target, prop) {
        if (prop === 'trackMultiaddrConnection') {
          return (maConn: MultiaddrConnection) => {
            target.trackMultiaddrConnection(maConn)
            track(maConn, 'global')
          }
        }
        if (prop === 'trackProtocolStream') {
          return (stream: Stream) => {
            target.trackProtocolStream(stream)
            if (stream.protocol != null) {
              track(stream, stream.protocol)
            }
          }
        }
        const value = Reflect.get(target, prop, target)
        return typeof value === 'function' ? value.bind(target) : value
      }
    })
  }
}
