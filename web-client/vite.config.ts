import { defineConfig } from 'vite';

const root = new URL('.', import.meta.url).pathname;

export default defineConfig({
  root,
  base: '/app/',
  logLevel: 'warn',
  // Preact's automatic JSX runtime: components compile to its h() calls, no React compat layer.
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    rollupOptions: {
      input: {
        room: `${root}index.html`,
        precall: `${root}precall.html`,
        threads: `${root}threads.html`,
        embed: `${root}embed/consult.html`,
        // The loader clinics include with a classic <script>: one self-contained file at a fixed URL.
        widget: `${root}src/embed/loader.ts`,
      },
      output: {
        entryFileNames: (chunk) => (chunk.name === 'widget' ? 'embed/widget.js' : 'assets/[name]-[hash].js'),
      },
    },
  },
});
