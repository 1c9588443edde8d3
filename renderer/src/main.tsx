import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { connectConsole } from './api/client.ts';
import { App } from './App.tsx';
import { useConsole } from './store.ts';
import './theme.css';

const api = connectConsole();
api.subscribe((e) => useConsole.getState().apply(e));

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App api={api} />
  </StrictMode>,
);
