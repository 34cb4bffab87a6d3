/** Selling: tap products into the cart, then charge — one sale document, the stock counted down. */
import { h, fill } from './dom.js';
import { type Line, listProducts, money, type Product, recordSale, stockOf, totalOf } from './model.js';
import type { Session, View } from './session.js';

export function sellView(session: Session): View {
  const cart: Line[] = [];
  const grid = h('div', { class: 'products' });
  const lines = h('ul', { class: 'cart-lines' });
  const charge = h('button', { id: 'charge', class: 'primary', onclick: () => void chargeCart() }, 'Charge');
  const status = h('p', { id: 'last-sale', role: 'status' });
  const element = h(
    'section',
    { class: 'sell' },
    grid,
    h('aside', { class: 'cart' }, h('h2', {}, 'Cart'), lines, charge, status),
  );

  function add(product: Product): void {
    const held = cart.find((line) => line.product === product._id);
    if (held) held.qty += 1;
    else cart.push({ product: product._id, name: product.name.value, price: product.price.value, qty: 1 });
    showCart();
  }

  function showCart(): void {
    fill(
      lines,
      ...cart.map((line, i) =>
        h(
          'li',
          {},
          `${line.qty} × ${line.name}`,
          h('span', { class: 'amount' }, money(line.qty * line.price)),
          h(
            'button',
            { class: 'remove', 'aria-label': `Remove ${line.name}`, onclick: () => removeLine(i) },
            '×',
          ),
        ),
      ),
    );
    charge.textContent = `Charge ${money(totalOf(cart))}`;
    charge.disabled = cart.length === 0;
  }

  function removeLine(index: number): void {
    cart.splice(index, 1);
    showCart();
  }

  async function chargeCart(): Promise<void> {
    charge.disabled = true;
    try {
      const sale = await recordSale(session.db, session.till, cart.splice(0));
      status.textContent = `Sale recorded: ${money(sale.total)}`;
      status.dataset.sale = sale._id;
    } catch (error) {
      status.textContent = `The sale was not recorded: ${(error as Error).message}`;
    }
    showCart();
  }

  async function refresh(): Promise<void> {
    const products = await listProducts(session.db);
    fill(
      grid,
      ...products.map((product) =>
        h(
          'button',
          { class: 'product', 'data-product': product._id, onclick: () => add(product) },
          h('span', { class: 'name' }, product.name.value),
          h('span', { class: 'price' }, money(product.price.value)),
          h('span', { class: 'stock' }, `${stockOf(product)} in stock`),
        ),
      ),
    );
  }

  showCart();
  return { element, refresh };
}
