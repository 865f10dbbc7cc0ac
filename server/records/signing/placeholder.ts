import { DEFAULT_BYTE_RANGE_PLACEHOLDER, SIG_FLAGS, SUBFILTER_ADOBE_PKCS7_DETACHED } from '@signpdf/utils';

/**
 * Room for the CMS signature, in bytes (written as twice as many hex digits). Ours is 2.3–2.9 KB
 * (an RSA 2048 signature, the clinic certificate and the CA certificate); the rest is margin for
 * longer names and a larger CA key.
 */
export const SIGNATURE_LENGTH = 6144;

export type PlaceholderOptions = {
  /** Shown by readers as the signer's name and the reason; no PHI (a clinic name, a fixed reason). */
  name: string;
  reason: string;
  location?: string;
  signingTime: Date;
};

// The parts of pdfkit's document this needs; they are not in its published typings.
type PdfkitInternals = {
  ref(data: Record<string, unknown>): { end(): void };
  initForm(): void;
  _acroform?: unknown;
  _root: { data: { AcroForm: { data: { Fields: unknown[]; DR?: unknown } } } };
  page: { dictionary: unknown; annotations: unknown[] };
  switchToPage(n: number): unknown;
  bufferedPageRange(): { start: number; count: number };
};

/**
 * Adds an invisible signature field on the first page with a /Sig dictionary whose ByteRange and
 * Contents are placeholders, for @signpdf/signpdf to fill in. Call after all pages are laid out
 * and before doc.end(). The same objects @signpdf/placeholder-pdfkit writes (MIT), done here
 * because that package pins pdfkit 0.11.
 */
export function addSignaturePlaceholder(pdfkitDoc: PDFKit.PDFDocument, opts: PlaceholderOptions): void {
  const doc = pdfkitDoc as unknown as PdfkitInternals;
  doc.switchToPage(doc.bufferedPageRange().start);
  // ByteRange must come before Contents: signpdf looks for /Contents after the ByteRange placeholder.
  const signature = doc.ref({
    Type: 'Sig',
    Filter: 'Adobe.PPKLite',
    SubFilter: SUBFILTER_ADOBE_PKCS7_DETACHED,
    ByteRange: [
      0,
      DEFAULT_BYTE_RANGE_PLACEHOLDER,
      DEFAULT_BYTE_RANGE_PLACEHOLDER,
      DEFAULT_BYTE_RANGE_PLACEHOLDER,
    ],
    Contents: Buffer.alloc(SIGNATURE_LENGTH),
    Reason: new String(opts.reason),
    M: opts.signingTime,
    Name: new String(opts.name),
    ...(opts.location ? { Location: new String(opts.location) } : {}),
    Prop_Build: { Filter: { Name: 'Adobe.PPKLite' }, App: { Name: 'CareCall' } },
  });
  if (!doc._acroform) doc.initForm();
  const form = doc._root.data.AcroForm;
  form.data = {
    ...form.data,
    SigFlags: SIG_FLAGS.SIGNATURES_EXIST | SIG_FLAGS.APPEND_ONLY,
  } as typeof form.data;
  const widget = doc.ref({
    Type: 'Annot',
    Subtype: 'Widget',
    FT: 'Sig',
    Rect: [0, 0, 0, 0],
    V: signature,
    T: new String(`Signature${form.data.Fields.length + 1}`),
    F: 4 | 128, // Print | Locked
    P: doc.page.dictionary,
  });
  doc.page.annotations.push(widget);
  form.data.Fields.push(widget);
  signature.end();
  widget.end();
}
