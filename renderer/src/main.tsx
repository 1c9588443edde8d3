import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { ActionsContext, createActions } from './actions.ts';
import { connectConsole } from './api/client.ts';
import { App } from './App.tsx';
import { useConsole } from './store.ts';
import './theme.css';

const api = connectConsole();
api.subscribe((e) => useConsole.getState().apply(e));
const actions = createActions(api);

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <ActionsContext.Provider value={actions}>
      <App />
    </ActionsContext.Provider>
  </StrictMode>,
);
