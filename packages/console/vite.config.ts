import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The console runs under `Content-Security-Policy: default-src 'self'` (no 'unsafe-inline'): the built index.html
// may only reference files, never inline a script or a style. Vite's module-preload polyfill would be an inline
// script in some set-ups, so it is off (every browser we support preloads modules itself); assets are never
// inlined as data: URLs (img-src 'self' would refuse them).
export default defineConfig({
  plugins: [react()],
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
    target: 'es2022',
  },
  server: {
    proxy: {
      '/api': process.env.EHMI_CONSOLE_URL ?? 'https://127.0.0.1:0',
      '/auth': process.env.EHMI_CONSOLE_URL ?? 'https://127.0.0.1:0',
    },
  },
});
