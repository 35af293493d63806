"""Train a fast style transfer network: python train.py style=starry_night [key=value ...]"""

from fastnst.app.commands import train_main

if __name__ == "__main__":
    train_main()
