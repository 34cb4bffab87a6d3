/**
 * The catalogue: each product's fields as the merge left them, with which till last set each
 * one and when (from its clock stamp), and a form to edit them or count a delivery in.
 */
import { conflicts } from 'settee/browser';
import { EDITABLE_FIELDS, type EditableField } from './catalog.js';
import { fill, h } from './dom.js';
import { editProduct, listProducts, money, type Product, restock, stockOf } from './model.js';
import type { Session, View } from './session.js';

const LABELS: Record<EditableField, string> = { name: 'Name', price: 'Price', category: 'Category' };

/** "till-2, 14:03:12": who set a field and when, read from its stamp. */
function stampNote(stamp: string): string {
  const { wall, node } = conflicts.parseStamp(stamp);
  return `${node}, ${new Date(wall).toLocaleTimeString()}`;
}

export function productsView(session: Session): View {
  const body = h('tbody');
  const editor = h('div', { class: 'editor' });
  const element = h(
    'section',
    { class: 'catalogue' },
    h('h2', {}, 'Products'),
    h(
      'table',
      {},
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...[...EDITABLE_FIELDS.map((field) => LABELS[field]), 'Stock', ''].map((t) => h('th', {}, t)),
        ),
      ),
      body,
    ),
    editor,
  );

  function cell(product: Product, field: EditableField): HTMLTableCellElement {
    const { value, stamp } = product[field];
    const shown = field === 'price' ? money(value as number) : String(value);
    return h('td', { 'data-field': field, title: `set by ${stampNote(stamp)}` }, shown);
  }

  function row(product: Product): HTMLTableRowElement {
    return h(
      'tr',
      { 'data-product': product._id, 'data-rev': product._rev },
      ...EDITABLE_FIELDS.map((field) => cell(product, field)),
      h('td', { 'data-field': 'stock' }, stockOf(product)),
      h('td', {}, h('button', { onclick: () => edit(product) }, 'Edit')),
    );
  }

  function input(id: string, label: string, value: string, type = 'text'): HTMLLabelElement {
    return h(
      'label',
      {},
      label,
      h('input', { id, name: id, type, value, step: type === 'number' ? '0.01' : null }),
    );
  }

  function edit(product: Product): void {
    const form = h(
      'form',
      { 'aria-label': `Edit ${product.name.value}` },
      h('h3', {}, `Edit ${product.name.value}`),
      input('edit-name', 'Name', product.name.value),
      input('edit-price', 'Price', (product.price.value / 100).toFixed(2), 'number'),
      input('edit-category', 'Category', product.category.value),
      h('p', { class: 'error', role: 'alert' }),
      h('button', { type: 'submit', class: 'primary' }, 'Save'),
      h('button', { type: 'button', onclick: () => fill(editor) }, 'Cancel'),
      h('hr'),
      input('restock-qty', 'Delivered', '0', 'number'),
      h('button', { type: 'button', onclick: () => void countIn(product, form) }, 'Add to stock'),
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      void save(product, form);
    });
    fill(editor, form);
  }

  async function save(product: Product, form: HTMLFormElement): Promise<void> {
    const read = (id: string) => (form.querySelector(`#${id}`) as HTMLInputElement).value.trim();
    const [name, price] = [read('edit-name'), Math.round(Number(read('edit-price')) * 100)];
    if (name === '' || !Number.isSafeInteger(price) || price < 0) {
      form.querySelector('.error')!.textContent = 'A product needs a name and a price of 0 or more.';
      return;
    }
    await editProduct(session.db, session.till, product._id, {
      name,
      price,
      category: read('edit-category'),
    });
    fill(editor);
  }

  async function countIn(product: Product, form: HTMLFormElement): Promise<void> {
    const qty = Number((form.querySelector('#restock-qty') as HTMLInputElement).value);
    if (Number.isInteger(qty) && qty > 0) await restock(session.db, session.till, product._id, qty);
    fill(editor);
  }

  async function refresh(): Promise<void> {
    fill(body, ...(await listProducts(session.db)).map(row));
  }

  return { element, refresh };
}
