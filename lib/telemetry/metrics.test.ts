import t from 'tap';
import { Registry } from 'prom-client';
import { compactEntry } from './access-log.js';
import { createMetricsRegistry, TCP_LABEL_NAMES, tcpLabels, TcpMetrics } from './metrics.js';

t.test('tcpLabels: Istio label values, unknown when missing', async (t) => {
  const l = tcpLabels({
    reporter: 'destination',
    source: { workload: 'frontend', namespace: 'demo', principal: 'spiffe://cluster.local/ns/demo/sa/frontend', canonicalService: 'frontend', canonicalRevision: 'v1', cluster: 'Kubernetes' },
    destination: { workload: 'backend', namespace: 'demo' },
    destinationService: { hostname: 'backend.demo.svc.cluster.local', namespace: 'demo', name: 'backend' },
    mtls: true,
  });
  t.same(Object.keys(l), [...TCP_LABEL_NAMES], 'every label, in order');
  t.match(l, {
    reporter: 'destination',
    source_workload: 'frontend',
    source_principal: 'spiffe://cluster.local/ns/demo/sa/frontend',
    source_app: 'frontend',
    source_version: 'v1',
    destination_workload: 'backend',
    destination_principal: 'unknown',
    destination_canonical_service: 'unknown',
    destination_service: 'backend.demo.svc.cluster.local',
    destination_service_name: 'backend',
    request_protocol: 'tcp',
    response_flags: '-',
    connection_security_policy: 'mutual_tls',
  });
  const plain = tcpLabels({ reporter: 'source', source: {}, destination: {}, mtls: false, responseFlags: 'DENY' });
  t.equal(plain.connection_security_policy, 'unknown');
  t.equal(plain.destination_service, 'unknown');
  t.equal(plain.response_flags, 'DENY');
  t.equal(tcpLabels({ reporter: 'source', source: { workload: '' }, destination: {}, mtls: false }).source_workload, 'unknown', 'empty strings are unknown');
});

t.test('TcpMetrics counts opens, closes, bytes and failures', async (t) => {
  const reg = new Registry();
  const m = new TcpMetrics(reg);
  const l = tcpLabels({ reporter: 'source', source: { workload: 'a' }, destination: { workload: 'b' }, mtls: true });
  m.connectionOpened(l);
  m.connectionClosed(l, { received: 10, sent: 20 });
  m.connectionClosed({ ...l, response_flags: 'DENY' }, { received: 0, sent: 0 });
  const text = await reg.metrics();
  t.match(text, /istio_tcp_connections_opened_total\{reporter="source",source_workload="a",[^}]*connection_security_policy="mutual_tls"\} 1/);
  t.match(text, /istio_tcp_received_bytes_total\{[^}]*\} 10/);
  t.match(text, /istio_tcp_sent_bytes_total\{[^}]*\} 20/);
  t.match(text, /istio_tcp_connections_failed_total\{[^}]*response_flags="DENY"[^}]*\} 1/);
  t.match(text, /istio_tcp_sockets_open\{reporter="source"\} -1/, 'gauge follows opens and closes');
});

t.test('registry and access-log helpers', async (t) => {
  const reg = createMetricsRegistry({ component: 'ztunnel', processMetrics: false });
  t.match(await reg.metrics(), /istio_build\{component="ztunnel",tag="0\.1\.0"\} 1/);
  t.same(compactEntry({ direction: 'inbound', 'src.addr': '10.0.0.1:5', 'dst.addr': '10.0.0.2:80', 'src.identity': '', bytes_sent: 0, error: undefined }), { direction: 'inbound', 'src.addr': '10.0.0.1:5', 'dst.addr': '10.0.0.2:80', bytes_sent: 0 });
});
