/** Packages: every published version per name and platform with its hash and signatures; upload one by drag and drop. */
import { useState, type DragEvent } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { api } from '../api/client';
import type { Package, PublishedPackages } from '../api/types';
import { Time, bytes } from '../components/time';
import { Empty, Query } from '../components/states';
import { can, useMe } from '../me';

/** The server's own limit applies too; this only spares uploading something clearly too big. */
const MAX_UPLOAD_BYTES = 512 * 1024 * 1024;

export function PackagesPage() {
  const q = useQuery({ queryKey: ['packages'], queryFn: () => api<{ packages: Package[] }>('/api/v1/packages') });
  const [open, setOpen] = useState<string | null>(null);
  const me = useMe();
  return (
    <section className="page">
      <h1>Packages</h1>
      {can(me.data, 'write') && <Upload />}
      <Query q={q} what="packages">
        {(d) =>
          d.packages.length === 0 ? (
            <Empty>No packages yet. Drop a package .tar.gz above, or run `corral package push`.</Empty>
          ) : (
            <table className="table">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>Version</th>
                  <th>Platform</th>
                  <th className="num">Size</th>
                  <th>SHA-256</th>
                  <th>Signatures</th>
                  <th>Published</th>
                  <th>
                    <span className="sr-only">Manifest</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {d.packages.map((p) => {
                  const key = `${p.name}@${p.version}/${p.os}/${p.arch}`;
                  return [
                    <tr key={key}>
                      <td className="mono">{p.name}</td>
                      <td className="mono">{p.version}</td>
                      <td>
                        {p.os || 'any'}/{p.arch || 'any'}
                      </td>
                      <td className="num">{bytes(p.size)}</td>
                      <td className="mono" title={p.sha256}>
                        {p.sha256.slice(0, 16)}…
                      </td>
                      <td>
                        <span className="chip">server</span>
                        {p.publisherSignature && <span className="chip">publisher</span>}
                      </td>
                      <td>
                        <Time iso={p.createdAt} />
                      </td>
                      <td>
                        <button type="button" className="small" aria-expanded={open === key} onClick={() => setOpen(open === key ? null : key)}>
                          Manifest
                        </button>
                      </td>
                    </tr>,
                    open === key && (
                      <tr key={`${key}-m`}>
                        <td colSpan={8}>
                          <pre className="log">{JSON.stringify(p.manifest, null, 2)}</pre>
                          <p className="mono small wrap">sha256 {p.sha256}</p>
                          <p className="mono small wrap">signature {p.signature}</p>
                        </td>
                      </tr>
                    ),
                  ];
                })}
              </tbody>
            </table>
          )
        }
      </Query>
    </section>
  );
}

function Upload() {
  const qc = useQueryClient();
  const [over, setOver] = useState(false);
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const upload = async (file: File | undefined) => {
    if (!file) return;
    if (file.size > MAX_UPLOAD_BYTES) return setMessage({ ok: false, text: `${file.name} is ${bytes(file.size)}; the limit is ${bytes(MAX_UPLOAD_BYTES)}.` });
    setMessage({ ok: true, text: `Uploading ${file.name}…` });
    try {
      const { packages } = await api<PublishedPackages>('/api/v1/packages', { method: 'POST', body: file });
      const platforms = packages.map((p) => `${p.os}/${p.arch}`).join(', ');
      setMessage({ ok: true, text: packages[0] ? `Published ${packages[0].name}@${packages[0].version} (${platforms}).` : `Published ${file.name}.` });
      await qc.invalidateQueries({ queryKey: ['packages'] });
    } catch (err) {
      setMessage({ ok: false, text: (err as Error).message });
    }
  };
  const drop = (e: DragEvent) => {
    e.preventDefault();
    setOver(false);
    void upload(e.dataTransfer.files[0]);
  };
  return (
    <div className={`dropzone${over ? ' over' : ''}`} onDragOver={(e) => (e.preventDefault(), setOver(true))} onDragLeave={() => setOver(false)} onDrop={drop}>
      <label>
        Drop a package (.tar.gz with corral.yaml) here, or <input type="file" accept=".tar.gz,.tgz,application/gzip" onChange={(e) => void upload(e.target.files?.[0])} />
      </label>
      {message && (
        <p className={message.ok ? 'muted' : 'field-error'} role="status">
          {message.text}
        </p>
      )}
    </div>
  );
}
