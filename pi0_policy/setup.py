from setuptools import find_packages, setup

package_name = 'pi0_policy'

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    package_data={package_name: ['tokenizer_assets/*', 'checkpoints/*/*', 'checkpoints/*/*/*',
                                 'checkpoints/*/*/*/*']},
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
    ],
    install_requires=['setuptools'],
    zip_safe=False,
    maintainer='pi0_ros maintainers',
    maintainer_email='maintainers@pi0-ros.dev',
    description='The pi0 vision-language-action model in PyTorch, its policy node, and post-training tools.',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'policy_node = pi0_policy.entry_points:policy_node',
        ],
    },
)
